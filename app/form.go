package app

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/storage"
)

// autosaveEvery is how many edits pass between automatic draft saves; a
// draft is also saved whenever the form is left or the app locks.
const autosaveEvery = 20

// fieldUI is the widget row of one form field.
type fieldUI struct {
	fd    *forms.Field
	row   *fyne.Container
	msg   *widget.Label
	focus fyne.Focusable
	// get returns the value (nil when empty) and a problem found while
	// reading the input itself (e.g. "not a number"), "" if none.
	get func() (any, string)
	set func(any)
	// calc shows a calculated field's value.
	calc *widget.Label
	// totals refreshes a sadd grid's totals.
	totals func()
}

// formView renders a form definition as an entry screen.
type formView struct {
	u       *UI
	form    *forms.Form
	id      string // record id, "" until the first save
	hasRev  bool   // the record has a finalised revision
	fields  []*fieldUI
	byID    map[string]*fieldUI
	top     *widget.Label
	rows    *fyne.Container
	scroll  *container.Scroll
	setting bool // values are being loaded: no change handling
	edits   int  // edits since the last save
	dirty   bool
}

// newFormPicker lists the forms to start a new record with.
func (u *UI) newFormPicker() fyne.CanvasObject {
	box := container.NewVBox()
	for _, f := range u.reg.Forms() {
		id := f.ID
		b := widget.NewButton(f.Title, func() { u.openNew(id) })
		b.Alignment = widget.ButtonAlignLeading
		d := widget.NewLabel(f.Description)
		d.Wrapping = fyne.TextWrapWord
		box.Add(container.NewBorder(nil, nil, container.NewGridWrap(fyne.NewSize(220, 40), b), nil, d))
	}
	return titled("New record", container.NewVScroll(box))
}

// openNew opens an empty form, pre-filled with the form's defaults.
func (u *UI) openNew(formID string) {
	f, err := u.reg.Latest(formID)
	if err != nil {
		u.showError("New record", err)
		return
	}
	u.leave(2)
	fv := u.newFormView(f, "", false)
	fv.load(f.Defaults())
	u.form = fv
	u.setBody(fv.render())
	fv.focusFirst()
}

// openForm opens a stored record: its draft if it has one, else its
// current revision.
func (u *UI) openForm(r *storage.Record) {
	f, err := u.reg.Get(r.FormID, r.FormVersion)
	if err != nil {
		u.showError("Opening record", err)
		return
	}
	u.leave(1)
	fv := u.newFormView(f, r.ID, r.Current != nil)
	data := r.Draft
	if data == nil && r.Current != nil {
		data = r.Current.Data
	}
	fv.load(data)
	u.form = fv
	u.setBody(fv.render())
	if r.Rejection != "" {
		fv.top.SetText("The hub rejected this record: " + r.Rejection + "\nCorrect it and finalise again to resend.")
	}
	fv.focusFirst()
}

func (u *UI) newFormView(f *forms.Form, id string, hasRev bool) *formView {
	fv := &formView{u: u, form: f, id: id, hasRev: hasRev, byID: map[string]*fieldUI{}, top: widget.NewLabel("")}
	fv.top.Wrapping = fyne.TextWrapWord
	fv.top.Importance = widget.DangerImportance
	for i := range f.Fields {
		fu := fv.newField(&f.Fields[i])
		fv.fields = append(fv.fields, fu)
		fv.byID[fu.fd.ID] = fu
	}
	return fv
}

// render lays the form out: buttons on top, fields in a scroll.
func (fv *formView) render() fyne.CanvasObject {
	rows := container.NewVBox()
	for _, fu := range fv.fields {
		rows.Add(fu.row)
	}
	fv.rows = rows
	save := widget.NewButtonWithIcon("Save draft", theme.DocumentSaveIcon(), func() { fv.saveDraft() })
	fin := widget.NewButtonWithIcon("Finalise", theme.ConfirmIcon(), func() { fv.finalise() })
	fin.Importance = widget.HighImportance
	hist := widget.NewButtonWithIcon("History", theme.HistoryIcon(), func() {
		if fv.id != "" {
			fv.u.showHistory(fv.id)
		}
	})
	sheet := widget.NewButtonWithIcon("Case sheet", theme.DocumentPrintIcon(), func() {
		if fv.id != "" && fv.hasRev {
			fv.u.openCaseSheet(fv.id)
		}
	})
	del := widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), func() { fv.confirmDelete() })
	del.Importance = widget.DangerImportance
	if !fv.hasRev {
		sheet.Disable() // a case sheet prints saved revisions
		del.Disable()   // only finalised records are deleted (a revision that syncs)
	}
	bar := container.NewHBox(save, fin, hist, sheet, del)
	head := widget.NewLabelWithStyle(fv.form.Title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	fv.u.win.Canvas().AddShortcut(&desktopShortcutSave, func(fyne.Shortcut) {
		if fv.u.form == fv {
			fv.saveDraft()
		}
	})
	fv.scroll = container.NewVScroll(container.NewPadded(rows))
	return container.NewBorder(container.NewVBox(container.NewBorder(nil, nil, head, bar), fv.top), nil, nil, nil, fv.scroll)
}

// confirmDelete asks before deleting the open record.
func (fv *formView) confirmDelete() {
	fv.u.touch()
	if fv.id == "" || !fv.hasRev {
		return
	}
	msg := widget.NewLabel("Delete this " + fv.form.Title + " record?\n\nThe deletion is sent to the hub at the next sync and the record\nleaves every list and report. Its history is kept, so it can be traced.")
	d := dialog.NewCustomConfirm("Delete record", "Delete", "Keep", msg, func(ok bool) {
		if ok {
			fv.delete()
		}
	}, fv.u.win)
	d.Show()
}

// delete saves a deletion revision of the open record (it enters the
// outbox like any revision), drops its draft and goes back to the list.
func (fv *formView) delete() {
	u := fv.u
	u.touch()
	if u.form != fv || u.store == nil {
		return // the form was left or the app locked while the dialog was open
	}
	if _, err := u.store.Delete(u.ctx, fv.id); err != nil {
		u.showError("Deleting record", err)
		return
	}
	u.form = nil // nothing to autosave: the record is gone
	if err := u.store.DiscardDraft(u.ctx, fv.id); err != nil && !errors.Is(err, storage.ErrNoDraft) {
		u.showError("Discarding the draft of the deleted record", err)
	}
	if u.engine != nil {
		u.engine.Nudge()
	}
	u.openRecords(fv.form.ID)
	u.setStatus("Record deleted: the deletion goes to the hub at the next sync.")
}

// focusFirst puts the keyboard in the first visible input.
func (fv *formView) focusFirst() {
	for _, fu := range fv.fields {
		if fu.focus != nil && fu.row.Visible() {
			fv.u.win.Canvas().Focus(fu.focus)
			return
		}
	}
}

// scrollTo brings a field's row into view.
func (fv *formView) scrollTo(fu *fieldUI) {
	if fv.scroll != nil {
		fv.scroll.ScrollToOffset(fyne.NewPos(0, fu.row.Position().Y))
	}
}

// load sets every input from data, then refreshes relevance, calculations
// and messages.
func (fv *formView) load(data map[string]any) {
	fv.setting = true
	for _, fu := range fv.fields {
		if fu.set != nil {
			fu.set(data[fu.fd.ID])
		}
	}
	fv.setting = false
	fv.refresh()
	fv.dirty = false
}

// changed is called by every input on every edit (UI goroutine).
func (fv *formView) changed() {
	if fv.setting {
		return
	}
	fv.u.touch()
	fv.dirty = true
	fv.edits++
	fv.refresh()
	if fv.edits >= autosaveEvery {
		fv.autosave()
	}
}

// collect reads the inputs: the data of every relevant, filled field, and
// input problems by field id. Fields hidden by skip logic are left out, so
// they are stored empty as the form requires.
func (fv *formView) collect() (map[string]any, map[string]string) {
	data := map[string]any{}
	local := map[string]string{}
	for _, fu := range fv.fields {
		if fu.get == nil {
			continue
		}
		v, p := fu.get()
		if p != "" {
			local[fu.fd.ID] = fu.fd.Label + ": " + p
			continue
		}
		if v != nil {
			data[fu.fd.ID] = v
		}
	}
	// Relevance may chain (a hidden field hides its dependants): repeat
	// until nothing changes.
	for range len(fv.fields) {
		removed := false
		for id := range data {
			if !fv.form.Relevant(id, data) {
				delete(data, id)
				delete(local, id)
				removed = true
			}
		}
		if !removed {
			break
		}
	}
	for id := range local {
		if !fv.form.Relevant(id, data) {
			delete(local, id)
		}
	}
	return data, local
}

// problems maps field ids to messages: input problems first, then the
// form's own rules (draft rules, or every rule when full is set).
func (fv *formView) problems(data map[string]any, local map[string]string, full bool) map[string]string {
	out := map[string]string{}
	var err error
	if full {
		err = fv.form.Validate(data, fv.u.now())
	} else {
		err = fv.form.ValidateDraft(data)
	}
	var ve *forms.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			if _, ok := out[p.Field]; !ok {
				out[p.Field] = p.Message
			}
		}
	}
	for id, m := range local {
		out[id] = m
	}
	return out
}

// refresh applies skip logic, calculated values and the draft messages.
func (fv *formView) refresh() {
	data, local := fv.collect()
	// Every rule, including dates against today and cross-field rules, but
	// only on answers given so far: an empty required field is reported
	// when finalising, not while the user is still on the way to it.
	probs := fv.problems(data, local, true)
	for id := range probs {
		if _, filled := data[id]; !filled && local[id] == "" {
			delete(probs, id)
		}
	}
	// Calculated values only from answers without a problem: an age of
	// 130 makes no age group.
	clean := map[string]any{}
	for id, v := range data {
		if _, bad := probs[id]; !bad {
			clean[id] = v
		}
	}
	computed := fv.form.Compute(clean)
	relayout := false
	for _, fu := range fv.fields {
		if rel := fv.form.Relevant(fu.fd.ID, data); rel != fu.row.Visible() {
			relayout = true
			if rel {
				fu.row.Show()
			} else {
				fu.row.Hide()
			}
		}
		if fu.calc != nil {
			fu.calc.SetText(displayValue(fu.fd, computed[fu.fd.ID]))
		}
		if fu.totals != nil {
			fu.totals()
		}
		if fu.showMsg(probs[fu.fd.ID]) {
			relayout = true
		}
	}
	if relayout && fv.rows != nil {
		fv.rows.Refresh()
	}
}

// showMsg shows or hides the field's message; it reports whether the
// message appeared or disappeared (the form must then be laid out again).
func (fu *fieldUI) showMsg(m string) bool {
	if fu.msg == nil {
		return false
	}
	was := fu.msg.Visible()
	if m == "" {
		fu.msg.SetText("")
		fu.msg.Hide()
		return was
	}
	fu.msg.SetText(m)
	fu.msg.Show()
	return !was
}

// draftData is what a draft save keeps: the collected data without values
// that have problems (they stay on screen with their message).
func (fv *formView) draftData() (map[string]any, int) {
	data, local := fv.collect()
	probs := fv.problems(data, local, false)
	dropped := len(local)
	for id := range probs {
		if _, ok := data[id]; ok {
			delete(data, id)
			dropped++
		}
	}
	return data, dropped
}

// saveDraft stores the form as a draft, whatever its state.
func (fv *formView) saveDraft() bool {
	fv.u.touch()
	data, dropped := fv.draftData()
	id, err := fv.u.store.SaveDraft(fv.u.ctx, fv.id, fv.form.ID, data)
	if err != nil {
		fv.u.showError("Saving draft", err)
		return false
	}
	fv.id, fv.edits, fv.dirty = id, 0, false
	msg := "Draft saved."
	if dropped > 0 {
		msg = fmt.Sprintf("Draft saved; %d answer(s) with a problem were not saved: correct them.", dropped)
	}
	fv.u.setStatus(msg)
	return true
}

// autosave saves a draft when something changed since the last save.
func (fv *formView) autosave() {
	if !fv.dirty || fv.u.store == nil {
		return
	}
	fv.saveDraft()
}

// finalise validates every rule; on failure it lists the failing fields
// and focuses the first, otherwise the record becomes a revision waiting to
// sync.
func (fv *formView) finalise() bool {
	fv.u.touch()
	data, local := fv.collect()
	probs := fv.problems(data, local, true)
	if len(probs) > 0 {
		var first *fieldUI
		var lines []string
		for _, fu := range fv.fields {
			m, ok := probs[fu.fd.ID]
			if !ok {
				continue
			}
			fu.showMsg(m)
			if fv.rows != nil {
				fv.rows.Refresh()
			}
			lines = append(lines, "• "+m)
			if first == nil && fu.focus != nil {
				first = fu
			}
		}
		// Problems not tied to a field of the form.
		var other []string
		for id, m := range probs {
			if _, ok := fv.byID[id]; !ok {
				other = append(other, "• "+m)
			}
		}
		sort.Strings(other)
		lines = append(lines, other...)
		fv.top.SetText(fmt.Sprintf("Cannot finalise: %d problem(s) to correct.\n%s", len(lines), strings.Join(lines, "\n")))
		if first != nil {
			fv.u.win.Canvas().Focus(first.focus)
			fv.scrollTo(first)
		}
		return false
	}
	id, err := fv.u.store.SaveDraft(fv.u.ctx, fv.id, fv.form.ID, data)
	if err == nil {
		fv.id = id
		_, err = fv.u.store.Finalise(fv.u.ctx, id)
	}
	if err != nil {
		fv.top.SetText("Cannot finalise: " + err.Error())
		return false
	}
	fv.dirty, fv.edits = false, 0
	if fv.u.engine != nil {
		fv.u.engine.Nudge()
	}
	fv.u.form = nil
	fv.u.openRecords(fv.form.ID)
	fv.u.setStatus(fv.form.Title + " finalised: waiting to sync.")
	return true
}

// newField builds the row of one field.
func (fv *formView) newField(fd *forms.Field) *fieldUI {
	fu := &fieldUI{fd: fd, msg: widget.NewLabel("")}
	fu.msg.Importance = widget.DangerImportance
	fu.msg.Wrapping = fyne.TextWrapWord
	fu.msg.Hide()
	label := fd.Label
	if fd.Required {
		label += " *"
	}
	head := widget.NewLabelWithStyle(label, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	var input fyne.CanvasObject
	switch fd.Type {
	case forms.TypeText:
		input = fv.textInput(fu, func(s string) (any, string) { return s, "" })
	case forms.TypeInteger, forms.TypeDecimal:
		input = fv.textInput(fu, parseNumber)
	case forms.TypeDate:
		input = fv.dateInput(fu)
	case forms.TypeSelectOne:
		input = fv.selectInput(fu)
	case forms.TypeSelectMultiple:
		input = fv.multiInput(fu)
	case forms.TypeBoolean:
		input = fv.boolInput(fu)
	case forms.TypeGeopoint:
		input = fv.geoInput(fu)
	case forms.TypeSADD:
		input = fv.saddInput(fu)
	case forms.TypeCalculated:
		fu.calc = widget.NewLabel("")
		input = fu.calc
	default: // note
		input = widget.NewLabel("")
	}
	objs := []fyne.CanvasObject{head}
	if fd.Hint != "" {
		h := widget.NewLabel(fd.Hint)
		h.Wrapping = fyne.TextWrapWord
		h.Importance = widget.LowImportance
		h.SizeName = theme.SizeNameCaptionText
		objs = append(objs, h)
	}
	objs = append(objs, input, fu.msg)
	fu.row = container.NewVBox(objs...)
	return fu
}

// textInput is an entry whose text parse turns into a value; Enter saves
// a draft.
func (fv *formView) textInput(fu *fieldUI, parse func(string) (any, string)) fyne.CanvasObject {
	e := widget.NewEntry()
	if fu.fd.Type == forms.TypeInteger || fu.fd.Type == forms.TypeDecimal {
		e.SetPlaceHolder(rangeHint(fu.fd))
	}
	e.OnChanged = func(string) { fv.changed() }
	e.OnSubmitted = func(string) { fv.saveDraft() }
	fu.focus = e
	fu.get = func() (any, string) {
		s := strings.TrimSpace(e.Text)
		if s == "" {
			return nil, ""
		}
		return parse(s)
	}
	fu.set = func(v any) { e.SetText(valueText(v)) }
	return e
}

func rangeHint(fd *forms.Field) string {
	switch {
	case fd.Min != nil && fd.Max != nil:
		return fmt.Sprintf("%s to %s", fmtNum(*fd.Min), fmtNum(*fd.Max))
	case fd.Min != nil:
		return "at least " + fmtNum(*fd.Min)
	case fd.Max != nil:
		return "at most " + fmtNum(*fd.Max)
	}
	return "a number"
}

func parseNumber(s string) (any, string) {
	x, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", "."), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return nil, "must be a number"
	}
	return x, ""
}

// dateInput is a YYYY-MM-DD entry with a calendar picker.
func (fv *formView) dateInput(fu *fieldUI) fyne.CanvasObject {
	e := widget.NewEntry()
	e.SetPlaceHolder("YYYY-MM-DD")
	e.OnChanged = func(string) { fv.changed() }
	e.OnSubmitted = func(string) { fv.saveDraft() }
	fu.focus = e
	fu.get = func() (any, string) {
		s := strings.TrimSpace(e.Text)
		if s == "" {
			return nil, ""
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return nil, "must be a date written YYYY-MM-DD, e.g. 2024-03-12"
		}
		return s, ""
	}
	fu.set = func(v any) { e.SetText(valueText(v)) }
	pick := widget.NewButtonWithIcon("", theme.CalendarIcon(), func() {
		start := fv.u.now()
		if t, err := time.Parse(time.DateOnly, strings.TrimSpace(e.Text)); err == nil {
			start = t
		}
		var d dialog.Dialog
		cal := widget.NewCalendar(start, func(t time.Time) {
			e.SetText(t.Format(time.DateOnly))
			d.Hide()
		})
		d = dialog.NewCustom("Pick a date: "+fu.fd.Label, "Cancel", cal, fv.u.win)
		d.Show()
	})
	return container.NewBorder(nil, nil, nil, pick, e)
}

// noAnswer is the first choice of a select: no answer.
const noAnswer = "—"

// selectInput is a drop-down of the options' labels.
func (fv *formView) selectInput(fu *fieldUI) fyne.CanvasObject {
	labels := []string{noAnswer}
	for _, o := range fu.fd.Options {
		labels = append(labels, o.Label)
	}
	s := widget.NewSelect(labels, func(string) { fv.changed() })
	s.PlaceHolder = "Choose…"
	fu.focus = s
	fu.get = func() (any, string) {
		i := s.SelectedIndex()
		if i <= 0 {
			return nil, ""
		}
		return fu.fd.Options[i-1].Value, ""
	}
	fu.set = func(v any) {
		str, _ := v.(string)
		for i, o := range fu.fd.Options {
			if o.Value == str {
				s.SetSelectedIndex(i + 1)
				return
			}
		}
		s.ClearSelected()
	}
	return s
}

// multiInput is a group of check boxes.
func (fv *formView) multiInput(fu *fieldUI) fyne.CanvasObject {
	labels := []string{}
	for _, o := range fu.fd.Options {
		labels = append(labels, o.Label)
	}
	g := widget.NewCheckGroup(labels, func([]string) { fv.changed() })
	if len(labels) <= 4 {
		g.Horizontal = true
	}
	fu.get = func() (any, string) {
		var out []any
		for _, o := range fu.fd.Options {
			for _, sel := range g.Selected {
				if sel == o.Label {
					out = append(out, o.Value)
				}
			}
		}
		if len(out) == 0 {
			return nil, ""
		}
		return out, ""
	}
	fu.set = func(v any) {
		var sel []string
		for _, x := range asStrings(v) {
			sel = append(sel, fu.fd.OptionLabel(x))
		}
		g.SetSelected(sel)
	}
	return g
}

// boolInput is a Yes/No choice that can be left unanswered.
func (fv *formView) boolInput(fu *fieldUI) fyne.CanvasObject {
	r := widget.NewRadioGroup([]string{"Yes", "No"}, func(string) { fv.changed() })
	r.Horizontal = true
	fu.get = func() (any, string) {
		switch r.Selected {
		case "Yes":
			return true, ""
		case "No":
			return false, ""
		}
		return nil, ""
	}
	fu.set = func(v any) {
		switch v {
		case true:
			r.SetSelected("Yes")
		case false:
			r.SetSelected("No")
		default:
			r.SetSelected("")
		}
	}
	return r
}

// geoInput takes latitude, longitude (decimal degrees) and accuracy in
// metres, with range checks as the user types.
func (fv *formView) geoInput(fu *fieldUI) fyne.CanvasObject {
	lat, lon, acc := widget.NewEntry(), widget.NewEntry(), widget.NewEntry()
	lat.SetPlaceHolder("Latitude, e.g. 19.4512")
	lon.SetPlaceHolder("Longitude, e.g. 103.2044")
	acc.SetPlaceHolder("Accuracy (m)")
	for _, e := range []*widget.Entry{lat, lon, acc} {
		e.OnChanged = func(string) { fv.changed() }
		e.OnSubmitted = func(string) { fv.saveDraft() }
	}
	fu.focus = lat
	fu.get = func() (any, string) {
		ls, os, as := strings.TrimSpace(lat.Text), strings.TrimSpace(lon.Text), strings.TrimSpace(acc.Text)
		if ls == "" && os == "" && as == "" {
			return nil, ""
		}
		if ls == "" || os == "" {
			return nil, "give both latitude and longitude"
		}
		la, err1 := strconv.ParseFloat(ls, 64)
		lo, err2 := strconv.ParseFloat(os, 64)
		switch {
		case err1 != nil || math.IsNaN(la):
			return nil, "latitude must be a number in decimal degrees"
		case err2 != nil || math.IsNaN(lo):
			return nil, "longitude must be a number in decimal degrees"
		case la < -90 || la > 90:
			return nil, "latitude must be between -90 and 90"
		case lo < -180 || lo > 180:
			return nil, "longitude must be between -180 and 180"
		}
		v := map[string]any{"lat": la, "lon": lo}
		if as != "" {
			a, err := strconv.ParseFloat(as, 64)
			if err != nil || a < 0 || math.IsNaN(a) {
				return nil, "accuracy must be a number of metres, 0 or more"
			}
			v["accuracy_m"] = a
		}
		return v, ""
	}
	fu.set = func(v any) {
		m, _ := v.(map[string]any)
		lat.SetText(valueText(m["lat"]))
		lon.SetText(valueText(m["lon"]))
		acc.SetText(valueText(m["accuracy_m"]))
	}
	return container.NewGridWithColumns(3, lat, lon, acc)
}

// saddGrid is the sex × age band count grid of a sadd field, with row,
// column and grand totals.
type saddGrid struct {
	sexes, bands []string
	cells        [][]*widget.Entry
	rowTot       []*widget.Label
	colTot       []*widget.Label
	total        *widget.Label
}

var sexLabels = map[string]string{"female": "Female", "male": "Male", "unknown": "Unknown"}

func (fv *formView) saddInput(fu *fieldUI) fyne.CanvasObject {
	g := &saddGrid{sexes: fu.fd.Sexes, bands: fu.fd.Bands, total: widget.NewLabelWithStyle("0", fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})}
	if len(g.sexes) == 0 {
		g.sexes = forms.DefaultSexes
	}
	if len(g.bands) == 0 {
		g.bands = forms.DefaultBands
	}
	bold := fyne.TextStyle{Bold: true}
	grid := container.NewGridWithColumns(len(g.bands) + 2)
	grid.Add(widget.NewLabel(""))
	for _, b := range g.bands {
		grid.Add(widget.NewLabelWithStyle(b, fyne.TextAlignCenter, bold))
	}
	grid.Add(widget.NewLabelWithStyle("Total", fyne.TextAlignTrailing, bold))
	for _, s := range g.sexes {
		name := sexLabels[s]
		if name == "" {
			name = s
		}
		grid.Add(widget.NewLabelWithStyle(name, fyne.TextAlignLeading, bold))
		row := []*widget.Entry{}
		for range g.bands {
			e := widget.NewEntry()
			e.SetPlaceHolder("0")
			e.OnChanged = func(string) { fv.changed() }
			e.OnSubmitted = func(string) { fv.saveDraft() }
			row = append(row, e)
			grid.Add(e)
		}
		g.cells = append(g.cells, row)
		rt := widget.NewLabelWithStyle("0", fyne.TextAlignTrailing, bold)
		g.rowTot = append(g.rowTot, rt)
		grid.Add(rt)
	}
	grid.Add(widget.NewLabelWithStyle("Total", fyne.TextAlignLeading, bold))
	for range g.bands {
		ct := widget.NewLabelWithStyle("0", fyne.TextAlignCenter, bold)
		g.colTot = append(g.colTot, ct)
		grid.Add(ct)
	}
	grid.Add(g.total)
	fu.focus = g.cells[0][0]
	fu.get = g.value
	fu.set = g.set
	fu.totals = g.updateTotals
	return grid
}

// cell reads one count: "" is zero.
func (g *saddGrid) cell(i, j int) (int, bool) {
	s := strings.TrimSpace(g.cells[i][j].Text)
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

func (g *saddGrid) value() (any, string) {
	out := map[string]any{}
	for i, s := range g.sexes {
		row := map[string]any{}
		for j, b := range g.bands {
			n, ok := g.cell(i, j)
			if !ok {
				return nil, fmt.Sprintf("%s %s: counts are whole numbers, 0 or more", s, b)
			}
			if n > 0 {
				row[b] = float64(n)
			}
		}
		if len(row) > 0 {
			out[s] = row
		}
	}
	if len(out) == 0 {
		return nil, ""
	}
	return out, ""
}

func (g *saddGrid) set(v any) {
	m := asMap(v)
	for i, s := range g.sexes {
		row := asMap(m[s])
		for j, b := range g.bands {
			g.cells[i][j].SetText(valueText(row[b]))
		}
	}
}

// updateTotals recomputes the row, column and grand totals; an unreadable
// cell counts as zero (its message is shown below the grid).
func (g *saddGrid) updateTotals() {
	cols := make([]int, len(g.bands))
	all := 0
	for i := range g.sexes {
		r := 0
		for j := range g.bands {
			n, _ := g.cell(i, j)
			r += n
			cols[j] += n
		}
		g.rowTot[i].SetText(strconv.Itoa(r))
		all += r
	}
	for j, c := range cols {
		g.colTot[j].SetText(strconv.Itoa(c))
	}
	g.total.SetText(strconv.Itoa(all))
}

// valueText shows a stored scalar in an entry.
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmtNum(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		if x {
			return "Yes"
		}
		return "No"
	}
	return fmt.Sprint(v)
}

// displayValue shows any value of a field for reading (calculated values,
// the conflict view).
func displayValue(fd *forms.Field, v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case string:
		if len(fd.Options) > 0 {
			return fd.OptionLabel(x)
		}
		return x
	case []any, []string:
		var out []string
		for _, s := range asStrings(x) {
			out = append(out, fd.OptionLabel(s))
		}
		return strings.Join(out, ", ")
	case map[string]any:
		if fd.Type == forms.TypeGeopoint {
			s := valueText(x["lat"]) + ", " + valueText(x["lon"])
			if a, ok := x["accuracy_m"]; ok {
				s += " (±" + valueText(a) + " m)"
			}
			return s
		}
		var parts []string
		for _, k := range sortedKeys(x) {
			row := asMap(x[k])
			for _, b := range sortedKeys(row) {
				parts = append(parts, fmt.Sprintf("%s %s: %s", k, b, valueText(row[b])))
			}
		}
		return strings.Join(parts, "; ")
	}
	return valueText(v)
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func asStrings(v any) []string {
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

func asMap(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return x
	case map[string]int:
		out := map[string]any{}
		for k, n := range x {
			out[k] = float64(n)
		}
		return out
	case map[string]map[string]int:
		out := map[string]any{}
		for k, m := range x {
			out[k] = asMap(m)
		}
		return out
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sameValue compares two values as JSON would (numbers by value).
func sameValue(a, b any) bool {
	return reflect.DeepEqual(normalizeJSON(a), normalizeJSON(b))
}

func normalizeJSON(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeJSON(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalizeJSON(e)
		}
		return out
	}
	return v
}

// desktopShortcutSave is Ctrl+S (Cmd+S on macOS): save a draft.
var desktopShortcutSave = desktop.CustomShortcut{KeyName: fyne.KeyS, Modifier: fyne.KeyModifierShortcutDefault}
