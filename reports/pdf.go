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

// The embedded fonts: DejaVu Sans covers Latin (including French, Spanish
// and Vietnamese), Greek and Cyrillic; Noto Sans Lao covers Lao, and runs of
// Lao text inside a string are drawn with it. Khmer, Thai, Burmese, Arabic
// and CJK have no glyphs and print as empty boxes (see docs/reports.md).
var (
	//go:embed fonts/DejaVuSans.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontBold []byte
	//go:embed fonts/NotoSansLao-Regular.ttf
	laoRegular []byte
	//go:embed fonts/NotoSansLao-Bold.ttf
	laoBold []byte
)

const (
	fontFamily = "dejavu"
	laoFamily  = "notolao"
)

func isLao(r rune) bool { return r >= 0x0E80 && r <= 0x0EFF }

func hasLao(s string) bool { return strings.ContainsFunc(s, isLao) }

// textRun is a piece of a string drawn with one font.
type textRun struct {
	s   string
	lao bool
}

// splitRuns cuts s into runs of Lao and non-Lao text; spaces and marks
// stay with the run they are in.
func splitRuns(s string) []textRun {
	var out []textRun
	var b strings.Builder
	cur := false
	for _, r := range s {
		l := isLao(r)
		if r == ' ' {
			l = cur
		}
		if l != cur && b.Len() > 0 {
			out = append(out, textRun{b.String(), cur})
			b.Reset()
		}
		cur = l
		b.WriteRune(r)
	}
	if b.Len() > 0 {
		out = append(out, textRun{b.String(), cur})
	}
	return out
}

// setFont selects the report font (DejaVu, or Noto Sans Lao for Lao runs).
func (d *doc) setFont(style string, size float64) {
	d.style, d.size = style, size
	d.pdf.SetFont(fontFamily, style, size)
}

func (d *doc) useRun(lao bool) {
	if lao {
		d.pdf.SetFont(laoFamily, d.style, d.size)
	} else {
		d.setFont(d.style, d.size)
	}
}

// strWidth is the printed width of s in mm at the current font and size.
func (d *doc) strWidth(s string) float64 {
	if !hasLao(s) {
		return d.pdf.GetStringWidth(s)
	}
	w := 0.0
	for _, r := range splitRuns(s) {
		d.useRun(r.lao)
		w += d.pdf.GetStringWidth(r.s)
	}
	d.useRun(false)
	return w
}

// cell is CellFormat that also prints Lao runs with the Lao font.
func (d *doc) cell(w, h float64, s, border string, ln int, align string, fill bool) {
	p := d.pdf
	if !hasLao(s) {
		p.CellFormat(w, h, s, border, ln, align, fill, 0, "")
		return
	}
	x, y := p.GetXY()
	p.CellFormat(w, h, "", border, 0, "", fill, 0, "")
	m := p.GetCellMargin()
	tw := d.strWidth(s)
	cx := x + m
	switch align {
	case "R":
		cx = x + w - m - tw
	case "C":
		cx = x + (w-tw)/2
	}
	_, unit := p.GetFontSize()
	base := y + h/2 + 0.3*unit
	for _, r := range splitRuns(s) {
		d.useRun(r.lao)
		p.Text(cx, base, r.s)
		cx += p.GetStringWidth(r.s)
	}
	d.useRun(false)
	switch ln {
	case 1:
		p.SetXY(d.left, y+h)
	case 2:
		p.SetXY(x, y+h)
	default:
		p.SetXY(x+w, y)
	}
}

// multi is MultiCell; text with Lao in it is printed on one line, cut to
// fit (gofpdf cannot wrap mixed fonts).
func (d *doc) multi(w, h float64, s, align string) {
	if !hasLao(s) {
		d.pdf.MultiCell(w, h, s, "", align, false)
		return
	}
	d.cell(w, h, d.fit(s, w-2*d.pdf.GetCellMargin()), "", 1, align, false)
}

// lines is how many lines multi prints s on in width w.
func (d *doc) lines(s string, w float64) int {
	if hasLao(s) {
		return 1
	}
	return max(1, len(d.pdf.SplitText(s, w)))
}

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
	style      string  // current font style and size (see setFont)
	size       float64
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
	p.AddUTF8FontFromBytes(laoFamily, "", laoRegular)
	p.AddUTF8FontFromBytes(laoFamily, "B", laoBold)
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
		style, size := d.style, d.size
		defer d.setFont(style, size)
		p.SetY(d.h - 12)
		d.setFont("", 7)
		p.SetTextColor(90, 90, 90)
		d.cell(d.w-d.left-d.right-30, 4, d.fit(footer, d.w-d.left-d.right-32), "T", 0, "L", false)
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
	d.setFont("B", size)
	d.multi(d.width(), size*0.5, s, "L")
	d.pdf.Ln(2)
}

func (d *doc) para(s string) {
	d.setFont("", 9)
	d.need(float64(d.lines(s, d.width())) * 4.5)
	d.multi(d.width(), 4.5, s, "L")
}

// fit shortens s with an ellipsis until it fits in w mm at the current font.
func (d *doc) fit(s string, w float64) string {
	if d.strWidth(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && d.strWidth(string(r)+"…") > w {
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
		d.setFont("B", 7.5)
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
		d.setFont(style, 7.5)
		d.cell(labelW, lineH, d.fit(r.Label, labelW-1), "B", 0, "L", bold)
		for i, c := range r.Cells {
			align := "R"
			if t.Formats[i] == FormatText {
				align = "L"
			}
			d.cell(widths[i], lineH, d.fit(c.Format(t.Formats[i]), widths[i]-1), "B", 0, align, bold)
		}
		if t.RowTotal {
			s := ""
			if r.Total != nil {
				s = r.Total.Format(t.Formats[0])
			}
			d.setFont("B", 7.5)
			p.CellFormat(widths[cols-1], lineH, s, "B", 0, "R", bold, 0, "")
		}
		p.Ln(lineH)
	}
	if len(t.Rows) == 0 {
		d.setFont("", 8)
		p.CellFormat(d.width(), lineH, "No records.", "", 1, "L", false, 0, "")
	}
	for i := range t.Rows {
		row(&t.Rows[i], false)
	}
	if t.Total != nil && len(t.Rows) > 0 {
		row(t.Total, true)
	}
	if t.Note != "" {
		d.setFont("", 7)
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
	d.setFont("", 7)
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
		d.setFont("", 7)
		d.cell(labelW, barH, d.fit(l, labelW-2), "", 0, "L", false)
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
	d.setFont("B", 24)
	p.MultiCell(d.width(), 11, "Needs assessment", "", "L", false)
	d.setFont("", 12)
	p.MultiCell(d.width(), 6, "Convention on Cluster Munitions: cooperation and assistance (Article 6)", "", "L", false)
	p.Ln(8)
	kv := func(k, v string) {
		d.setFont("B", 10)
		p.CellFormat(55, 6, k, "", 0, "L", false, 0, "")
		d.setFont("", 10)
		d.multi(d.width()-55, 6, v, "L")
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
		d.setFont("", 10)
		d.cell(110, 7, f.Label, "B", 0, "L", false)
		d.setFont("B", 11)
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
