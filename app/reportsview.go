package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/ccmcollect/ccmcollect/reports"
	"github.com/ccmcollect/ccmcollect/storage"
)

// Report kinds of the reports screen.
const (
	kindNeeds = "Needs-assessment summary (PDF)"
	kindCase  = "Case sheet of one record (PDF)"
	kindCSV   = "CSV export of one form"
)

// reportsView chooses a report, its filters and where it goes, and
// generates it off the UI goroutine.
type reportsView struct {
	u        *UI
	kind     *widget.RadioGroup
	from, to *widget.Entry
	adm1     *widget.Entry
	suppress *widget.Check
	paper    *widget.Select
	recordID *widget.Entry
	formSel  *widget.Select
	hxl      *widget.Check
	personal *widget.Check
	dir      *widget.Entry
	gen      *widget.Button
	bar      *widget.ProgressBarInfinite
	result   *widget.Label
	open     *widget.Button
	outPath  string
	formIDs  []string
}

func (u *UI) reportsDir() string {
	if u.opts.ReportsDir != "" {
		return u.opts.ReportsDir
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, "CCM Collect reports")
	}
	return filepath.Join(os.TempDir(), "ccmcollect-reports")
}

func (u *UI) newReportsView() fyne.CanvasObject {
	v := &reportsView{u: u, result: widget.NewLabel(""), bar: widget.NewProgressBarInfinite()}
	u.reportv = v
	v.bar.Hide()
	v.bar.Stop()
	v.result.Wrapping = fyne.TextWrapWord
	v.from, v.to, v.adm1 = widget.NewEntry(), widget.NewEntry(), widget.NewEntry()
	v.from.SetPlaceHolder("YYYY-MM-DD (optional)")
	v.to.SetPlaceHolder("YYYY-MM-DD (optional)")
	v.adm1.SetPlaceHolder("All provinces")
	v.suppress = widget.NewCheck("Hide counts under 5 people (for summaries leaving the country)", nil)
	v.paper = widget.NewSelect([]string{string(reports.A4), string(reports.Letter)}, nil)
	v.paper.SetSelected(string(reports.A4))
	v.recordID = widget.NewEntry()
	v.recordID.SetPlaceHolder("Record id (see a record's History)")
	titles := []string{}
	for _, f := range u.reg.Forms() {
		titles = append(titles, f.Title)
		v.formIDs = append(v.formIDs, f.ID)
	}
	v.formSel = widget.NewSelect(titles, nil)
	v.formSel.SetSelectedIndex(0)
	v.hxl = widget.NewCheck("Add a row of HXL hashtags", nil)
	v.personal = widget.NewCheck("Include personal data (name, contact) — only for the national case file", nil)
	v.dir = widget.NewEntry()
	v.dir.SetText(u.reportsDir())
	v.gen = widget.NewButton("Generate", func() { v.generate() })
	v.gen.Importance = widget.HighImportance
	v.open = widget.NewButton("Open file", func() {
		if v.outPath != "" {
			if err := u.app.OpenURL(&url.URL{Scheme: "file", Path: v.outPath}); err != nil {
				u.showError("Opening file", err)
			}
		}
	})
	v.open.Hide()
	form := widget.NewForm(
		widget.NewFormItem("From", v.from),
		widget.NewFormItem("To", v.to),
		widget.NewFormItem("Province", v.adm1),
		widget.NewFormItem("Paper", v.paper),
		widget.NewFormItem("Record", v.recordID),
		widget.NewFormItem("Form (CSV)", v.formSel),
		widget.NewFormItem("Save in folder", v.dir),
	)
	v.kind = widget.NewRadioGroup([]string{kindNeeds, kindCase, kindCSV}, func(string) {})
	v.kind.SetSelected(kindNeeds)
	box := container.NewVBox(v.kind, form, v.suppress, v.hxl, v.personal, container.NewHBox(v.gen, v.open), v.bar, v.result)
	return titled("Reports", container.NewVScroll(box))
}

// openCaseSheet shows the reports screen set up for record id's case sheet.
func (u *UI) openCaseSheet(id string) {
	u.show(5)
	u.reportv.kind.SetSelected(kindCase)
	u.reportv.recordID.SetText(id)
}

// filter reads the needs-assessment filters.
func (v *reportsView) filter() (reports.Filter, error) {
	var f reports.Filter
	for _, p := range []struct {
		e   *widget.Entry
		dst *time.Time
		n   string
	}{{v.from, &f.From, "From"}, {v.to, &f.To, "To"}} {
		s := strings.TrimSpace(p.e.Text)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return f, fmt.Errorf("%s must be a date written YYYY-MM-DD", p.n)
		}
		*p.dst = t
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return f, errors.New("the To date must not be before the From date")
	}
	f.Adm1 = strings.TrimSpace(v.adm1.Text)
	if v.suppress.Checked {
		f.SuppressBelow = 5
	}
	return f, nil
}

// generate snapshots the choices, writes the file in a goroutine and shows
// where it went.
func (v *reportsView) generate() {
	u := v.u
	u.touch()
	kind := v.kind.Selected
	f, err := v.filter()
	if err != nil {
		v.result.SetText(err.Error())
		return
	}
	size := reports.PageSize(v.paper.Selected)
	dir := strings.TrimSpace(v.dir.Text)
	recID := strings.TrimSpace(v.recordID.Text)
	formID := ""
	if i := v.formSel.SelectedIndex(); i >= 0 {
		formID = v.formIDs[i]
	}
	hxl, personal := v.hxl.Checked, v.personal.Checked
	if kind == kindCase && recID == "" {
		v.result.SetText("Enter the id of the record for its case sheet.")
		return
	}
	now := u.now()
	lastSync := u.syncStatus().LastSuccess
	stamp := now.Format("20060102-150405")
	var name string
	switch kind {
	case kindNeeds:
		name = "needs-assessment-" + stamp + ".pdf"
	case kindCase:
		name = "case-sheet-" + stamp + ".pdf"
	default:
		name = formID + "-" + stamp + ".csv"
	}
	path := filepath.Join(dir, name)
	reg := u.reg
	v.gen.Disable()
	v.open.Hide()
	v.bar.Show()
	v.bar.Start()
	v.result.SetText("Generating…")
	load(u, func(ctx context.Context, st *storage.Store) (string, error) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("creating %s: %w", dir, err)
		}
		tmp, err := os.CreateTemp(dir, ".report-*")
		if err != nil {
			return "", fmt.Errorf("creating the file: %w", err)
		}
		// Deferred calls run last first: the file is closed on every path,
		// then removed unless it was renamed into place.
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		var summary string
		switch kind {
		case kindNeeds:
			id, err := st.Identity(ctx)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return "", err
			}
			meta := reports.Meta{State: id.Programme, Programme: id.Programme, LastSync: lastSync, GeneratedAt: now, Device: id.DeviceName}
			r, err := reports.Build(ctx, st, reg, f, meta)
			if err != nil {
				return "", err
			}
			if err := reports.WriteNeedsPDF(tmp, r, size); err != nil {
				return "", err
			}
			summary = "Needs-assessment summary"
		case kindCase:
			hist, err := st.History(ctx, recID)
			if err != nil {
				return "", err
			}
			id, _ := st.Identity(ctx)
			if err := reports.WriteCaseSheet(tmp, hist, reg, reports.CaseSheetOptions{IncludePersonal: personal, Size: size, GeneratedAt: now, Device: id.DeviceName}); err != nil {
				return "", err
			}
			summary = "Case sheet"
		default:
			n, err := reports.WriteCSV(ctx, tmp, st, reg, formID, reports.CSVOptions{HXL: hxl, IncludePersonal: personal})
			if err != nil {
				return "", err
			}
			summary = fmt.Sprintf("CSV export of %d record(s)", n)
		}
		if err := tmp.Sync(); err != nil {
			return "", err
		}
		if err := tmp.Close(); err != nil {
			return "", err
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return "", err
		}
		return summary, nil
	}, func(summary string, err error) {
		v.gen.Enable()
		v.bar.Stop()
		v.bar.Hide()
		if err != nil {
			v.result.SetText("Not generated: " + err.Error())
			return
		}
		v.outPath = path
		v.result.SetText(summary + " saved to " + path)
		v.open.Show()
	})
}
