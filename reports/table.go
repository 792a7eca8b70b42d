package reports

// tableSpec describes a table to build from raw numbers.
type tableSpec struct {
	title, rowHead string
	cols, formats  []string
	rows           []string
	get            func(r, c int) float64
	text           func(r, c int) string // for FormatText columns
	rowTotal       bool                  // add a total per row (columns share one unit)
	totalRow       bool                  // add a "Total" row of column sums
	note           string
}

// suppressor applies small-cell suppression to people counts.
type suppressor int

// cell returns the Value of raw count x in format f.
func (s suppressor) cell(x float64, f string) Value {
	if f == FormatPeople && s > 0 && x > 0 && x < float64(s) {
		return Value{Suppressed: true, limit: int(s)}
	}
	return Value{N: x}
}

// sum totals cells: the sum of the visible values, AtLeast when any part was
// suppressed, itself suppressed when the true total is a small people count.
func (s suppressor) sum(raw float64, parts []Value, f string) Value {
	v := s.cell(raw, f)
	if v.Suppressed {
		return v
	}
	vis := 0.0
	hidden := false
	for _, p := range parts {
		vis += p.N
		hidden = hidden || p.Suppressed || p.AtLeast
	}
	if hidden {
		return Value{N: vis, AtLeast: true}
	}
	return Value{N: raw}
}

func (s suppressor) build(sp tableSpec) Table {
	t := Table{Title: sp.title, RowHead: sp.rowHead, Columns: sp.cols, Formats: sp.formats, RowTotal: sp.rowTotal, Note: sp.note}
	nc := len(sp.cols)
	colRaw := make([]float64, nc)
	colParts := make([][]Value, nc)
	var grandRaw float64
	var grandParts []Value
	for r, label := range sp.rows {
		row := Row{Label: label, Cells: make([]Value, nc)}
		var rowRaw float64
		for c := range nc {
			if sp.formats[c] == FormatText {
				row.Cells[c] = Value{Text: sp.text(r, c)}
				continue
			}
			x := sp.get(r, c)
			row.Cells[c] = s.cell(x, sp.formats[c])
			rowRaw += x
			colRaw[c] += x
			colParts[c] = append(colParts[c], row.Cells[c])
		}
		if sp.rowTotal {
			tot := s.sum(rowRaw, row.Cells, sp.formats[0])
			row.Total = &tot
			grandRaw += rowRaw
			grandParts = append(grandParts, row.Cells...)
		}
		t.Rows = append(t.Rows, row)
	}
	if sp.totalRow {
		tr := Row{Label: "Total", Cells: make([]Value, nc)}
		for c := range nc {
			if sp.formats[c] == FormatText {
				tr.Cells[c] = Value{Text: " "}
				continue
			}
			tr.Cells[c] = s.sum(colRaw[c], colParts[c], sp.formats[c])
		}
		if sp.rowTotal {
			g := s.sum(grandRaw, grandParts, sp.formats[0])
			tr.Total = &g
		}
		t.Total = &tr
	}
	return t
}
