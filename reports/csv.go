package reports

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
)

// CSVOptions tune an export.
type CSVOptions struct {
	// HXL adds a second header row of HXL hashtags.
	HXL bool
	// IncludePersonal keeps the columns of sensitive fields (name, contact);
	// they are left out by default.
	IncludePersonal bool
	// Progress, when set, is called every ProgressEvery rows with the
	// number of rows written so far.
	Progress func(rows int)
}

// ProgressEvery is how often, in rows, an export reports progress.
const ProgressEvery = 10000

// Leading columns of every export, before the form's own columns.
var csvMeta = []string{"record_id", "rev", "saved_at"}
var csvMetaHXL = []string{"#meta+id", "#meta+rev", "#date+saved"}

// WriteCSV writes the current revision of every finalised record of formID
// as CSV (UTF-8, RFC 4180): one row per record, one column per field in the
// layout of forms.Form.Columns of the latest form version (so that export
// and "record import" agree), sadd cells flattened to field_female_0-17
// columns, after record_id, rev and saved_at. Records saved with an older
// form version fill the columns their version shares with the latest one.
// Text cells that start with =, +, -, @, a tab or a carriage return get a
// leading "'" against formula injection; numeric columns never do.
// It returns the number of records written.
func WriteCSV(ctx context.Context, w io.Writer, src Source, reg *forms.Registry, formID string, opt CSVOptions) (int, error) {
	latest, err := reg.Latest(formID)
	if err != nil {
		return 0, fmt.Errorf("reports: export %q: %w", formID, err)
	}
	cols := latest.Columns()
	colFields := latest.ColumnFields()
	sensitive := latest.SensitiveFields()
	var keep []int // indexes into cols that are exported
	for i := range cols {
		if opt.IncludePersonal || !slices.Contains(sensitive, colFields[i]) {
			keep = append(keep, i)
		}
	}
	// guard[j] says how column keep[j] is protected from formula injection.
	guard := make([]cellGuard, len(keep))
	for j, i := range keep {
		if fd, ok := latest.Field(colFields[i]); ok {
			guard[j] = guardFor(fd.Type)
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	head := make([]string, 0, len(csvMeta)+len(keep))
	head = append(head, csvMeta...)
	for _, i := range keep {
		head = append(head, cols[i])
	}
	if err := cw.Write(head); err != nil {
		return 0, fmt.Errorf("reports: export %q: %w", formID, err)
	}
	if opt.HXL {
		tags := latest.HXLTags()
		row := append([]string(nil), csvMetaHXL...)
		for _, i := range keep {
			row = append(row, tags[i])
		}
		if err := cw.Write(row); err != nil {
			return 0, fmt.Errorf("reports: export %q: %w", formID, err)
		}
	}
	// Older versions: map each latest column to its position in the
	// version's own layout (-1 when the version lacks it).
	type layout struct {
		form *forms.Form
		pos  []int
	}
	layouts := map[int]*layout{}
	layoutOf := func(v int) (*layout, error) {
		if l, ok := layouts[v]; ok {
			return l, nil
		}
		f, err := reg.Get(formID, v)
		if err != nil {
			return nil, err
		}
		l := &layout{form: f}
		if v != latest.Version {
			own := f.Columns()
			l.pos = make([]int, len(cols))
			for i, c := range cols {
				l.pos[i] = slices.Index(own, c)
			}
		}
		layouts[v] = l
		return l, nil
	}
	n := 0
	out := make([]string, len(head))
	err = src.EachCurrent(ctx, formID, func(rev *record.Revision) error {
		if rev.Deleted || rev.FormID != formID {
			return nil
		}
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		l, err := layoutOf(rev.FormVersion)
		if err != nil {
			return err
		}
		flat := l.form.Flatten(rev.Data)
		out[0], out[1], out[2] = rev.RecordID, rev.Rev, rev.SavedAt.UTC().Format(time.RFC3339)
		for j, i := range keep {
			switch {
			case l.pos == nil:
				out[3+j] = flat[i]
			case l.pos[i] >= 0:
				out[3+j] = flat[l.pos[i]]
			default:
				out[3+j] = ""
			}
			out[3+j] = guard[j].apply(out[3+j])
		}
		if err := cw.Write(out); err != nil {
			return err
		}
		n++
		if opt.Progress != nil && n%ProgressEvery == 0 {
			opt.Progress(n)
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("reports: export %q: %w", formID, err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("reports: export %q: %w", formID, err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("reports: export %q: %w", formID, err)
	}
	return n, nil
}

// cellGuard is how a column is protected from spreadsheet formula injection.
type cellGuard uint8

const (
	guardNone    cellGuard = iota // a numeric column: written as is
	guardText                     // free text or codes: always guarded
	guardNumeric                  // a calculated value: guarded unless it is a number
)

// guardFor returns the guard for a column of a field of type t. Integer,
// decimal, boolean, geopoint and sadd columns hold numbers (a geopoint's
// latitude or longitude may be negative) and are never changed.
func guardFor(t string) cellGuard {
	switch t {
	case forms.TypeInteger, forms.TypeDecimal, forms.TypeBoolean, forms.TypeGeopoint, forms.TypeSADD:
		return guardNone
	case forms.TypeCalculated:
		return guardNumeric
	}
	return guardText
}

// apply returns v, with a leading "'" if v is a text cell that starts with
// =, +, -, @, a tab or a carriage return, so that a spreadsheet shows it as
// text instead of running it as a formula.
func (g cellGuard) apply(v string) string {
	if g == guardNone || v == "" || !strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return v
	}
	if g == guardNumeric {
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return v
		}
	}
	return "'" + v
}
