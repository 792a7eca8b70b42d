package reports

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
)

// ErrNoHistory reports a case sheet asked for without any revision.
var ErrNoHistory = errors.New("record has no revision")

// CaseSheetOptions tune a case sheet.
type CaseSheetOptions struct {
	// IncludePersonal prints the values of sensitive fields; by default
	// they show as "(personal data, not printed)".
	IncludePersonal bool
	Size            PageSize
	GeneratedAt     time.Time
	Device          string
}

// Hidden is what a case sheet prints instead of a personal value.
const Hidden = "(personal data, not printed)"

// WriteCaseSheet prints one record for the paper file: every field of its
// current (winner) revision with its label and value, then its revision
// history (who saved what when, and which fields changed). history holds
// every revision of one record, in any order.
func WriteCaseSheet(w io.Writer, history []*record.Revision, reg *forms.Registry, opt CaseSheetOptions) error {
	if len(history) == 0 {
		return ErrNoHistory
	}
	tree := record.NewTree(history[0].RecordID)
	byRev := map[string]*record.Revision{}
	revs := slices.Clone(history)
	sort.SliceStable(revs, func(i, j int) bool {
		if revs[i].Gen() != revs[j].Gen() {
			return revs[i].Gen() < revs[j].Gen()
		}
		return revs[i].SavedAt.Before(revs[j].SavedAt)
	})
	for _, r := range revs {
		if r.RecordID != history[0].RecordID {
			return fmt.Errorf("reports: case sheet: revisions of two records (%s, %s): %w", history[0].RecordID, r.RecordID, record.ErrBadRevision)
		}
		if _, err := tree.Add(r); err != nil {
			return fmt.Errorf("reports: case sheet: %w", err)
		}
		byRev[r.Rev] = r
	}
	cur := tree.Winner()
	form, err := reg.Get(cur.FormID, cur.FormVersion)
	if err != nil {
		return fmt.Errorf("reports: case sheet: %w", err)
	}
	size := opt.Size
	if size == "" {
		size = A4
	}
	footer := fmt.Sprintf("CCM Collect · Case sheet · %s · %s · printed %s", form.Title, cur.RecordID, opt.GeneratedAt.UTC().Format("2006-01-02 15:04 UTC"))
	d, err := newDoc(size, form.Title+" "+cur.RecordID, footer, opt.GeneratedAt)
	if err != nil {
		return err
	}
	p := d.pdf
	p.AddPage()
	d.heading(form.Title+": case sheet", 16)
	kv := func(k, v string) {
		d.setFont("B", 9)
		p.CellFormat(45, 5, k, "", 0, "L", false, 0, "")
		d.setFont("", 9)
		d.multi(d.width()-45, 5, v, "L")
	}
	state := "current"
	if cur.Deleted {
		state = "deleted"
	}
	if tree.Conflicted() {
		state = "in conflict: several current versions; the winner is shown"
	}
	kv("Record", cur.RecordID)
	kv("Form", fmt.Sprintf("%s, version %d", form.ID, form.Version))
	kv("Programme", orDash(cur.Programme))
	kv("Revision shown", fmt.Sprintf("%s (%s)", cur.Rev, state))
	kv("Saved", cur.SavedAt.UTC().Format("2006-01-02 15:04 UTC")+" by "+orDash(cur.User)+" on device "+orDash(cur.DeviceID))
	kv("Printed", opt.GeneratedAt.UTC().Format("2006-01-02 15:04 UTC")+" on device "+orDash(opt.Device))
	p.Ln(4)
	d.heading("Answers", 12)
	data := form.Compute(cur.Data)
	for i := range form.Fields {
		fd := &form.Fields[i]
		if fd.Type == forms.TypeNote {
			continue
		}
		val := "—"
		if v, ok := data[fd.ID]; ok {
			val = formatValue(fd, v)
			if fd.Sensitive && !opt.IncludePersonal {
				val = Hidden
			}
		} else if !form.Relevant(fd.ID, data) {
			val = "— (not applicable)"
		}
		d.setFont("", 9)
		d.need(float64(d.lines(val, d.width()-65))*4.5 + 1)
		y := p.GetY()
		d.setFont("B", 8.5)
		d.multi(64, 4.5, fd.Label, "L")
		y2 := p.GetY()
		p.SetXY(d.left+65, y)
		d.setFont("", 9)
		d.multi(d.width()-65, 4.5, val, "L")
		p.SetY(max(y2, p.GetY()) + 0.8)
		p.Line(d.left, p.GetY()-0.4, d.w-d.right, p.GetY()-0.4)
	}
	p.Ln(4)
	d.heading(fmt.Sprintf("Revision history (%d)", len(revs)), 12)
	for _, r := range revs {
		changed := changedFields(form, r, byRev)
		what := "created"
		switch {
		case r.Deleted:
			what = "deleted"
		case len(r.Parents) > 1:
			what = "merged " + strconv.Itoa(len(r.Parents)) + " versions"
		case len(r.Parents) == 1:
			what = "edited"
		}
		line := fmt.Sprintf("%s  %s  %s by %s on %s", r.SavedAt.UTC().Format("2006-01-02 15:04"), r.Rev[:min(len(r.Rev), 12)], what, orDash(r.User), orDash(r.DeviceID))
		if len(changed) > 0 && len(r.Parents) > 0 {
			line += ". Changed: " + strings.Join(changed, ", ")
		}
		d.para(line)
	}
	if err := p.Output(w); err != nil {
		return fmt.Errorf("reports: writing case sheet: %w", err)
	}
	return nil
}

// changedFields lists the labels of fields whose value differs between r
// and its first parent (all fields for a first revision are not listed).
func changedFields(form *forms.Form, r *record.Revision, byRev map[string]*record.Revision) []string {
	if len(r.Parents) == 0 {
		return nil
	}
	parent := byRev[r.Parents[0]]
	if parent == nil {
		return nil
	}
	keys := map[string]bool{}
	for k := range maps.Keys(r.Data) {
		keys[k] = true
	}
	for k := range maps.Keys(parent.Data) {
		keys[k] = true
	}
	var out []string
	for i := range form.Fields {
		fd := &form.Fields[i]
		if keys[fd.ID] && !reflect.DeepEqual(r.Data[fd.ID], parent.Data[fd.ID]) {
			out = append(out, fd.Label)
		}
	}
	return out
}

// formatValue renders a value for people: option labels, "yes"/"no",
// geopoints as "lat, lon (±N m)", sadd as "Female 0-17: 3; …".
func formatValue(fd *forms.Field, v any) string {
	switch fd.Type {
	case forms.TypeSelectOne:
		if s, ok := v.(string); ok {
			return fd.OptionLabel(s)
		}
	case forms.TypeSelectMultiple:
		var labels []string
		for _, s := range anyStrings(v) {
			labels = append(labels, fd.OptionLabel(s))
		}
		return strings.Join(labels, "; ")
	case forms.TypeBoolean:
		if b, ok := v.(bool); ok {
			if b {
				return "yes"
			}
			return "no"
		}
	case forms.TypeGeopoint:
		if m, ok := v.(map[string]any); ok {
			s := fmt.Sprintf("%v, %v", m["lat"], m["lon"])
			if a, ok := m["accuracy_m"]; ok {
				s += fmt.Sprintf(" (±%v m)", a)
			}
			return s
		}
	case forms.TypeSADD:
		if m, ok := v.(map[string]any); ok {
			var parts []string
			total := 0.0
			for _, sex := range fd.Sexes {
				row, _ := m[sex].(map[string]any)
				for _, b := range fd.Bands {
					if c, ok := row[b].(float64); ok && c != 0 {
						parts = append(parts, fmt.Sprintf("%s %s: %s", sex, b, strconv.FormatFloat(c, 'f', -1, 64)))
						total += c
					}
				}
			}
			if len(parts) == 0 {
				return "0"
			}
			return strings.Join(parts, "; ") + " (total " + strconv.FormatFloat(total, 'f', -1, 64) + ")"
		}
	}
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return fd.OptionLabel(x) // calculated fields may list their results as options
	}
	return fmt.Sprint(v)
}

func anyStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
