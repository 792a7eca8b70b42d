// Package reports turns the records of the local store into what a national
// authority prints: the aggregates of a needs assessment (plain functions
// over records, tested alone), the needs-assessment PDF, a case sheet of one
// record, and CSV exports.
//
// Aggregation streams over a Source in one pass per form and keeps only
// small maps keyed by dimension tuples (year, province, sex, …), so memory
// does not grow with the number of records. Nothing in this package ever
// prints a field marked sensitive unless a caller explicitly asks for it on a
// case sheet or an export.
package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccmcollect/ccmcollect/record"
)

// Source streams the winner revision of every finalised, not-deleted record
// of a form. *storage.Store satisfies it as is.
type Source interface {
	EachCurrent(ctx context.Context, formID string, fn func(*record.Revision) error) error
}

// Filter restricts a needs assessment. The zero Filter takes everything.
type Filter struct {
	// From and To bound each record's main date (incident, survey, release,
	// event or session date), both inclusive; zero means open. Needs are not
	// filtered by date: an assessment lists every need on file.
	From, To time.Time
	// Adm1 keeps only records of this province (compared without case and
	// surrounding space); records without a province are left out when set.
	Adm1 string
	// SuppressBelow hides people counts from 1 to SuppressBelow-1 as "<N"
	// (0 = off; 5 when a summary leaves the country). See Value.
	SuppressBelow int
	// Progress, when set, is told how many records of a form were read so
	// far (every ProgressEvery records and at the end of each form). It is
	// not a filter; it rides along for long runs.
	Progress func(formID string, records int)
}

// Meta is what the cover of a report states.
type Meta struct {
	State       string    `json:"state"`     // e.g. "Lao PDR"
	Programme   string    `json:"programme"` // ISO 3166-1 alpha-3, e.g. "LAO"
	LastSync    time.Time `json:"last_sync,omitzero"`
	GeneratedAt time.Time `json:"generated_at"`
	Device      string    `json:"device"`
}

// Value is one cell of a table.
//
// A people count below Filter.SuppressBelow (but not zero) is Suppressed: its
// N is 0 and it shows as "<5". A total that includes a suppressed cell is
// AtLeast: its N is the sum of the visible cells only, and it shows as
// "123+", so that no suppressed value can be computed back from totals.
type Value struct {
	N          float64
	Text       string // for text columns (titles, dates)
	Suppressed bool
	AtLeast    bool
	limit      int
}

// MarshalJSON writes a number, a text, "<5" for a suppressed cell or "123+"
// for a total that includes suppressed cells.
func (v Value) MarshalJSON() ([]byte, error) {
	switch {
	case v.Text != "":
		return json.Marshal(v.Text)
	case v.Suppressed, v.AtLeast:
		return json.Marshal(v.String())
	}
	return json.Marshal(v.N)
}

// String formats a count (whole numbers with thin grouping) or a text.
func (v Value) String() string {
	switch {
	case v.Text != "":
		return v.Text
	case v.Suppressed:
		return "<" + strconv.Itoa(max(v.limit, 2))
	case v.AtLeast:
		return group(v.N, 0) + "+"
	}
	return group(v.N, 0)
}

// Format renders v in column format f.
func (v Value) Format(f string) string {
	if v.Text != "" || v.Suppressed {
		return v.String()
	}
	var s string
	switch f {
	case FormatKm2:
		s = group(v.N/1e6, 2)
	case FormatMoney:
		s = group(v.N, 0)
	default:
		s = group(v.N, 0)
	}
	if v.AtLeast {
		s += "+"
	}
	return s
}

// group formats x with the given decimals and a comma every three digits.
func group(x float64, decimals int) string {
	s := strconv.FormatFloat(x, 'f', decimals, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Column formats.
const (
	FormatPeople = "people" // a count of people: subject to suppression
	FormatCount  = "count"  // a count of records, items or sessions
	FormatKm2    = "km2"    // an area held in m², shown in km² (PDF and JSON)
	FormatMoney  = "money"  // an amount in the table's currency
	FormatText   = "text"
)

// Table is one table of a section: rows with a label, a cell per column,
// and optionally a total per row and a total row.
type Table struct {
	Title   string   `json:"title"`
	RowHead string   `json:"row_head"`
	Columns []string `json:"columns"`
	// Formats holds one format per column (FormatPeople, …).
	Formats  []string `json:"formats"`
	Rows     []Row    `json:"rows"`
	RowTotal bool     `json:"row_total"` // each row has a Total
	Total    *Row     `json:"total,omitempty"`
	Note     string   `json:"note,omitempty"`

	// weights are relative print widths of the label column, each column
	// and the total column; nil = label wide, numbers equal.
	weights []float64
}

// Row is one line of a Table.
type Row struct {
	Label string  `json:"label"`
	Cells []Value `json:"cells"`
	Total *Value  `json:"total,omitempty"`
}

// Chart is a bar chart the PDF draws: one bar group per label, one bar per
// series (stacked when Stacked).
type Chart struct {
	Title  string      `json:"title"`
	Labels []string    `json:"labels"`
	Series []string    `json:"series"`
	Values [][]float64 `json:"values"` // [label][series]
	// Totals label each bar as the table does ("<5", "19+"); nil = sums.
	Totals  []string `json:"totals,omitempty"`
	Stacked bool     `json:"stacked"`
	Unit    string   `json:"unit"`
}

// Section is one of the six parts of a needs assessment.
type Section struct {
	ID     string   `json:"id"`
	Title  string   `json:"title"`
	Notes  []string `json:"notes,omitempty"`
	Tables []Table  `json:"tables"`
	Charts []Chart  `json:"charts,omitempty"`
}

// Figure is one key figure of the summary page.
type Figure struct {
	Label  string `json:"label"`
	Value  Value  `json:"value"`
	Format string `json:"format"`
}

// Report is a needs assessment: the aggregates the PDF shows and the JSON
// export holds, figure for figure.
type Report struct {
	Meta       Meta      `json:"meta"`
	Period     string    `json:"period"`
	Adm1       string    `json:"adm1,omitempty"`
	Suppress   int       `json:"suppress_below,omitempty"`
	KeyFigures []Figure  `json:"key_figures"`
	Sections   []Section `json:"sections"`
}

// Section returns the section with the given id, or nil.
func (r *Report) Section(id string) *Section {
	for i := range r.Sections {
		if r.Sections[i].ID == id {
			return &r.Sections[i]
		}
	}
	return nil
}

// Table returns the table with the given title, or nil.
func (s *Section) Table(title string) *Table {
	for i := range s.Tables {
		if s.Tables[i].Title == title {
			return &s.Tables[i]
		}
	}
	return nil
}

// Cell returns the cell at the row with the given label and the given
// column, and whether it exists.
func (t *Table) Cell(row, col string) (Value, bool) {
	ci := -1
	for i, c := range t.Columns {
		if c == col {
			ci = i
		}
	}
	if ci < 0 {
		return Value{}, false
	}
	for _, r := range t.Rows {
		if r.Label == row {
			return r.Cells[ci], true
		}
	}
	if t.Total != nil && t.Total.Label == row {
		return t.Total.Cells[ci], true
	}
	return Value{}, false
}

// periodString describes a filter's date range.
func periodString(f Filter) string {
	switch {
	case f.From.IsZero() && f.To.IsZero():
		return "all records"
	case f.From.IsZero():
		return "up to " + f.To.Format(time.DateOnly)
	case f.To.IsZero():
		return "from " + f.From.Format(time.DateOnly)
	}
	return fmt.Sprintf("%s to %s", f.From.Format(time.DateOnly), f.To.Format(time.DateOnly))
}

// inJSON returns v as the JSON export holds it for column format f: an area,
// held in m², in km², so that it matches its km² label.
func (v Value) inJSON(f string) Value {
	if f == FormatKm2 && v.Text == "" {
		v.N /= 1e6
	}
	return v
}

// MarshalJSON writes the figure with its value in the unit of its label
// (areas in km²).
func (f Figure) MarshalJSON() ([]byte, error) {
	type plain Figure
	p := plain(f)
	p.Value = f.Value.inJSON(f.Format)
	return json.Marshal(p)
}

// MarshalJSON writes the table with its cells in the unit of their column
// labels (areas in km²); a row's total is in the first column's unit, as
// printed.
func (t Table) MarshalJSON() ([]byte, error) {
	type plain Table
	p := plain(t)
	if slices.Contains(t.Formats, FormatKm2) {
		conv := func(r Row) Row {
			cells := make([]Value, len(r.Cells))
			for i, c := range r.Cells {
				if i < len(t.Formats) {
					c = c.inJSON(t.Formats[i])
				}
				cells[i] = c
			}
			r.Cells = cells
			if r.Total != nil && len(t.Formats) > 0 {
				v := r.Total.inJSON(t.Formats[0])
				r.Total = &v
			}
			return r
		}
		p.Rows = make([]Row, len(t.Rows))
		for i, r := range t.Rows {
			p.Rows[i] = conv(r)
		}
		if t.Total != nil {
			tot := conv(*t.Total)
			p.Total = &tot
		}
	}
	return json.Marshal(p)
}
