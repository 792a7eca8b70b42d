package reports

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jung-kurt/gofpdf"
)

// The embedded font: DejaVu Sans covers Latin (including French, Spanish
// and Vietnamese), Greek and Cyrillic. It has no Lao, Khmer or Thai glyphs:
// such text prints as empty boxes (see docs/reports.md).
var (
	//go:embed fonts/DejaVuSans.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontBold []byte
)

const fontFamily = "dejavu"

// PageSize is a paper size of the PDFs.
type PageSize string

// Paper sizes.
const (
	A4     PageSize = "A4"
	Letter PageSize = "Letter"
)

// ErrBadPageSize reports a page size other than A4 and Letter.
var ErrBadPageSize = errors.New("page size must be A4 or Letter")

// ParsePageSize accepts "a4" and "letter" in any case.
func ParsePageSize(s string) (PageSize, error) {
	switch strings.ToLower(s) {
	case "a4", "":
		return A4, nil
	case "letter":
		return Letter, nil
	}
	return "", fmt.Errorf("%q: %w", s, ErrBadPageSize)
}

// doc wraps gofpdf with the report's fonts, margins and footer.
type doc struct {
	pdf        *gofpdf.Fpdf
	w, h       float64 // page size, mm
	left, top  float64
	right, bot float64
}

const lineH = 5.0

func newDoc(size PageSize, title, footer string, created time.Time) (*doc, error) {
	if size != A4 && size != Letter {
		return nil, fmt.Errorf("reports: %q: %w", size, ErrBadPageSize)
	}
	p := gofpdf.New("P", "mm", string(size), "")
	p.AddUTF8FontFromBytes(fontFamily, "", fontRegular)
	p.AddUTF8FontFromBytes(fontFamily, "B", fontBold)
	p.SetMargins(15, 15, 15)
	p.SetAutoPageBreak(false, 18)
	p.SetTitle(title, true)
	p.SetCreator("CCM Collect", true)
	p.SetCreationDate(created)
	p.SetModificationDate(created)
	p.AliasNbPages("{nb}")
	d := &doc{pdf: p, left: 15, top: 15, right: 15, bot: 18}
	d.w, d.h = p.GetPageSize()
	p.SetFooterFunc(func() {
		p.SetY(d.h - 12)
		p.SetFont(fontFamily, "", 7)
		p.SetTextColor(90, 90, 90)
		p.CellFormat(d.w-d.left-d.right-30, 4, footer, "T", 0, "L", false, 0, "")
		p.CellFormat(30, 4, fmt.Sprintf("Page %d of {nb}", p.PageNo()), "T", 0, "R", false, 0, "")
		p.SetTextColor(0, 0, 0)
	})
	return d, nil
}

func (d *doc) width() float64 { return d.w - d.left - d.right }

// need starts a new page unless h mm are left on this one.
func (d *doc) need(h float64) {
	if d.pdf.GetY()+h > d.h-d.bot {
		d.pdf.AddPage()
	}
}

func (d *doc) heading(s string, size float64) {
	d.need(size + 14)
	d.pdf.SetFont(fontFamily, "B", size)
	d.pdf.MultiCell(d.width(), size*0.5, s, "", "L", false)
	d.pdf.Ln(2)
}

func (d *doc) para(s string) {
	d.pdf.SetFont(fontFamily, "", 9)
	lines := d.pdf.SplitText(s, d.width())
	d.need(float64(len(lines)) * 4.5)
	d.pdf.MultiCell(d.width(), 4.5, s, "", "L", false)
}

// fit shortens s with an ellipsis until it fits in w mm at the current font.
func (d *doc) fit(s string, w float64) string {
	if d.pdf.GetStringWidth(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && d.pdf.GetStringWidth(string(r)+"…") > w {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// table draws t with a header row repeated on every page it spans.
func (d *doc) table(t *Table) {
	p := d.pdf
	d.heading(t.Title, 10)
	cols := len(t.Columns)
	if t.RowTotal {
		cols++
	}
	labelW := 42.0
	widths := make([]float64, cols)
	if len(t.weights) == cols+1 {
		sum := 0.0
		for _, w := range t.weights {
			sum += w
		}
		labelW = t.weights[0] / sum * d.width()
		for i := range widths {
			widths[i] = t.weights[i+1] / sum * d.width()
		}
	} else {
		for i := range widths {
			widths[i] = (d.width() - labelW) / float64(cols)
		}
	}
	heads := append([]string{t.RowHead}, t.Columns...)
	if t.RowTotal {
		heads = append(heads, "Total")
	}
	allW := append([]float64{labelW}, widths...)
	header := func() {
		p.SetFont(fontFamily, "B", 7.5)
		p.SetFillColor(225, 232, 240)
		lines := 1
		for i, h := range heads {
			lines = max(lines, len(p.SplitText(h, allW[i]-1.5)))
		}
		hh := float64(lines) * 3.6
		x, y := p.GetXY()
		for i, h := range heads {
			p.Rect(x, y, allW[i], hh+1, "F")
			p.SetXY(x, y+0.5)
			align := "R"
			if i == 0 || (i > 0 && i <= len(t.Formats) && t.Formats[i-1] == FormatText) {
				align = "L"
			}
			p.MultiCell(allW[i], 3.6, h, "", align, false)
			x += allW[i]
		}
		p.SetXY(d.left, y+hh+1)
	}
	d.need(4 * lineH)
	header()
	row := func(r *Row, bold bool) {
		if p.GetY()+lineH > d.h-d.bot {
			p.AddPage()
			header()
		}
		style := ""
		if bold {
			style = "B"
			p.SetFillColor(240, 240, 240)
		}
		p.SetFont(fontFamily, style, 7.5)
		p.CellFormat(labelW, lineH, d.fit(r.Label, labelW-1), "B", 0, "L", bold, 0, "")
		for i, c := range r.Cells {
			align := "R"
			if t.Formats[i] == FormatText {
				align = "L"
			}
			p.CellFormat(widths[i], lineH, d.fit(c.Format(t.Formats[i]), widths[i]-1), "B", 0, align, bold, 0, "")
		}
		if t.RowTotal {
			s := ""
			if r.Total != nil {
				s = r.Total.Format(t.Formats[0])
			}
			p.SetFont(fontFamily, "B", 7.5)
			p.CellFormat(widths[cols-1], lineH, s, "B", 0, "R", bold, 0, "")
		}
		p.Ln(lineH)
	}
	if len(t.Rows) == 0 {
		p.SetFont(fontFamily, "", 8)
		p.CellFormat(d.width(), lineH, "No records.", "", 1, "L", false, 0, "")
	}
	for i := range t.Rows {
		row(&t.Rows[i], false)
	}
	if t.Total != nil && len(t.Rows) > 0 {
		row(t.Total, true)
	}
	if t.Note != "" {
		p.SetFont(fontFamily, "", 7)
		p.SetTextColor(80, 80, 80)
		p.MultiCell(d.width(), 3.5, t.Note, "", "L", false)
		p.SetTextColor(0, 0, 0)
	}
	p.Ln(4)
}

var palette = [][3]int{{192, 57, 43}, {41, 128, 185}, {149, 165, 166}, {39, 174, 96}}

// chart draws c as horizontal bars, one per label, stacked by series, with
// the label on the left and the bar's total on the right.
func (d *doc) chart(c *Chart) {
	if len(c.Labels) == 0 {
		return
	}
	p := d.pdf
	barH := 4.0
	h := float64(len(c.Labels))*(barH+1.2) + 14
	d.need(h + 12)
	d.heading(c.Title, 10)
	maxV := 0.0
	for _, v := range c.Values {
		s := 0.0
		for _, x := range v {
			s += x
		}
		maxV = max(maxV, s)
	}
	labelW, valueW := 45.0, 24.0
	barW := d.width() - labelW - valueW
	// Legend.
	p.SetFont(fontFamily, "", 7)
	x := d.left + labelW
	for i, s := range c.Series {
		col := palette[i%len(palette)]
		p.SetFillColor(col[0], col[1], col[2])
		p.Rect(x, p.GetY()+0.8, 3, 3, "F")
		p.SetX(x + 4)
		w := p.GetStringWidth(s) + 6
		p.CellFormat(w, 4.5, s, "", 0, "L", false, 0, "")
		x += w + 4
	}
	p.Ln(6)
	for i, l := range c.Labels {
		y := p.GetY()
		p.SetFont(fontFamily, "", 7)
		p.CellFormat(labelW, barH, d.fit(l, labelW-2), "", 0, "L", false, 0, "")
		bx := d.left + labelW
		total := 0.0
		for j, v := range c.Values[i] {
			if maxV > 0 && v > 0 {
				w := v / maxV * barW
				col := palette[j%len(palette)]
				p.SetFillColor(col[0], col[1], col[2])
				p.Rect(bx, y+0.4, w, barH-0.8, "F")
				bx += w
			}
			total += v
		}
		p.SetXY(d.left+labelW+barW, y)
		label := group(total, 0)
		if i < len(c.Totals) {
			label = c.Totals[i]
		}
		p.CellFormat(valueW, barH, label, "", 0, "R", false, 0, "")
		p.SetXY(d.left, y+barH+1.2)
	}
	p.Ln(5)
}

// WriteNeedsPDF renders r as a needs-assessment PDF on paper of the given
// size: a cover with the key figures, then each section's notes, tables and
// charts, with page numbers and a footer. It holds only aggregates, never a
// personal field.
func WriteNeedsPDF(w io.Writer, r *Report, size PageSize) error {
	state := r.Meta.State
	if state == "" {
		state = r.Meta.Programme
	}
	footer := fmt.Sprintf("CCM Collect · Needs assessment · %s · generated %s", state, r.Meta.GeneratedAt.UTC().Format("2006-01-02 15:04 UTC"))
	d, err := newDoc(size, "Needs assessment: "+state, footer, r.Meta.GeneratedAt)
	if err != nil {
		return err
	}
	p := d.pdf
	p.AddPage()
	p.SetY(40)
	p.SetFont(fontFamily, "B", 24)
	p.MultiCell(d.width(), 11, "Needs assessment", "", "L", false)
	p.SetFont(fontFamily, "", 12)
	p.MultiCell(d.width(), 6, "Convention on Cluster Munitions: cooperation and assistance (Article 6)", "", "L", false)
	p.Ln(8)
	kv := func(k, v string) {
		p.SetFont(fontFamily, "B", 10)
		p.CellFormat(55, 6, k, "", 0, "L", false, 0, "")
		p.SetFont(fontFamily, "", 10)
		p.MultiCell(d.width()-55, 6, v, "", "L", false)
	}
	kv("State", orDash(strings.TrimSpace(state+programmeSuffix(r.Meta))))
	kv("Period", r.Period)
	if r.Adm1 != "" {
		kv("Province", r.Adm1)
	}
	lastSync := "never synchronised"
	if !r.Meta.LastSync.IsZero() {
		lastSync = r.Meta.LastSync.UTC().Format("2006-01-02 15:04 UTC")
	}
	kv("Data as of last sync", lastSync)
	kv("Generated", r.Meta.GeneratedAt.UTC().Format("2006-01-02 15:04 UTC")+" on device "+orDash(r.Meta.Device))
	if r.Suppress > 0 {
		kv("Small counts", fmt.Sprintf("People counts under %d are shown as \"<%d\"; totals that include them show the visible part followed by \"+\".", r.Suppress, r.Suppress))
	}
	p.Ln(8)
	d.heading("Key figures", 14)
	for _, f := range r.KeyFigures {
		p.SetFont(fontFamily, "", 10)
		p.CellFormat(110, 7, f.Label, "B", 0, "L", false, 0, "")
		p.SetFont(fontFamily, "B", 11)
		p.CellFormat(d.width()-110, 7, f.Value.Format(f.Format), "B", 1, "R", false, 0, "")
	}
	for si := range r.Sections {
		s := &r.Sections[si]
		p.AddPage()
		d.heading(s.Title, 15)
		for _, n := range s.Notes {
			d.para(n)
		}
		if len(s.Notes) > 0 {
			p.Ln(3)
		}
		for ci := range s.Charts {
			d.chart(&s.Charts[ci])
		}
		for ti := range s.Tables {
			d.table(&s.Tables[ti])
		}
	}
	if err := p.Output(w); err != nil {
		return fmt.Errorf("reports: writing PDF: %w", err)
	}
	return nil
}

func programmeSuffix(m Meta) string {
	if m.Programme == "" || m.Programme == m.State {
		return ""
	}
	return " (" + m.Programme + ")"
}
