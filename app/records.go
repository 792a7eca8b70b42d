package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/storage"
)

// pageSize is how many summaries one store page holds; the list fetches the
// next page when the user scrolls near the end, so 100,000 records never
// load at once.
const pageSize = 200

// recordsView is a virtualised list of one form's records with search,
// a status filter, a province filter and a date range.
type recordsView struct {
	u       *UI
	formSel *widget.Select
	status  *widget.Select
	search  *widget.Entry
	adm1    *widget.Entry
	from    *dateFilter
	to      *dateFilter
	list    *widget.List
	count   *widget.Label
	row1    *fyne.Container // form, status, count and search
	root    *fyne.Container // filters above the list

	q       storage.Query
	items   []storage.Summary
	next    string
	loading bool
	gen     int                // bumped on every new query; stale pages are dropped
	cancel  context.CancelFunc // stops the listing of the previous query
	qctx    context.Context    // the current query's context
	formIDs []string
}

// openRecords shows the records screen for one form.
func (u *UI) openRecords(formID string) {
	u.show(1)
	if u.records != nil && formID != "" {
		u.records.selectForm(formID)
	}
}

func (u *UI) newRecordsView(formID string) fyne.CanvasObject {
	v := &recordsView{u: u, count: widget.NewLabel("")}
	u.records = v
	titles := []string{"All forms"}
	v.formIDs = []string{""}
	for _, f := range u.reg.Forms() {
		titles = append(titles, f.Title)
		v.formIDs = append(v.formIDs, f.ID)
	}
	v.formSel = widget.NewSelect(titles, func(string) { v.requery() })
	statuses := []string{"Any status"}
	for _, s := range statusOrder {
		statuses = append(statuses, statusLabels[s])
	}
	v.status = widget.NewSelect(statuses, func(string) { v.requery() })
	v.search = widget.NewEntry()
	v.search.SetPlaceHolder("Search (province, village, area code, title…)")
	v.search.OnChanged = func(string) { v.requery() }
	v.adm1 = widget.NewEntry()
	v.adm1.SetPlaceHolder("Province")
	v.adm1.OnChanged = func(string) { v.requery() }
	v.from = newDateFilter("From YYYY-MM-DD", v.dateChanged)
	v.to = newDateFilter("To YYYY-MM-DD", v.dateChanged)
	v.list = widget.NewList(
		func() int { return len(v.items) },
		func() fyne.CanvasObject {
			return container.NewBorder(nil, nil, nil, widget.NewLabel("Waiting to sync"), widget.NewLabel("title"))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			c := o.(*fyne.Container)
			s := v.items[i]
			c.Objects[0].(*widget.Label).SetText(summaryLine(u, s))
			st := c.Objects[1].(*widget.Label)
			st.SetText(statusLabels[s.Status])
			st.Importance = widget.MediumImportance
			if s.Status == storage.StatusConflict || s.Status == storage.StatusRejected {
				st.Importance = widget.DangerImportance
			}
			st.Refresh()
			if i >= len(v.items)-pageSize/4 {
				v.more()
			}
		})
	v.list.OnSelected = func(i widget.ListItemID) {
		id := v.items[i].ID
		v.list.UnselectAll()
		u.openRecord(id)
	}
	v.formSel.SetSelectedIndex(0)
	v.status.SetSelectedIndex(0)
	if formID != "" {
		v.selectForm(formID)
	}
	v.row1 = container.NewBorder(nil, nil, container.NewHBox(v.formSel, v.status, v.count), nil, v.search)
	row2 := container.NewGridWithColumns(3, container.NewVBox(v.adm1), v.from.box, v.to.box)
	v.root = container.NewBorder(container.NewVBox(v.row1, row2), nil, nil, nil, v.list)
	return titled("Records", v.root)
}

// summaryLine is a list row: never a personal field (Summary.Title is
// non-personal by the storage contract).
func summaryLine(u *UI, s storage.Summary) string {
	parts := []string{}
	title := s.FormID
	if f, err := u.reg.Latest(s.FormID); err == nil {
		title = f.Title
	}
	parts = append(parts, title)
	for _, p := range []string{s.Date, s.Adm1, s.Title} {
		if p != "" && p != title {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " · ")
}

func (v *recordsView) selectForm(formID string) {
	for i, id := range v.formIDs {
		if id == formID {
			v.formSel.SetSelectedIndex(i)
		}
	}
}

// requery starts a new listing from the first page.
func (v *recordsView) requery() {
	if v.formSel == nil || v.status == nil || v.search == nil {
		return
	}
	q := storage.Query{Limit: pageSize, Text: strings.TrimSpace(v.search.Text)}
	if i := v.formSel.SelectedIndex(); i > 0 {
		q.FormID = v.formIDs[i]
	}
	if i := v.status.SelectedIndex(); i > 0 {
		q.Status = statusOrder[i-1]
	}
	if v.adm1 != nil {
		q.Adm1 = strings.TrimSpace(v.adm1.Text)
	}
	if v.from != nil && v.to != nil {
		q.From, q.To = v.from.value, v.to.value
	}
	v.q = q
	v.gen++
	if v.cancel != nil {
		v.cancel() // typing a search stops the scan for the previous text
	}
	var qctx context.Context
	qctx, v.cancel = context.WithCancel(v.u.ctx)
	v.qctx = qctx
	v.items, v.next, v.loading = nil, "", false
	v.list.Refresh()
	v.fetch("")
}

func (v *recordsView) reload() { v.requery() }

// dateFilter is one end of the date range: an entry, the last valid date
// typed in it (zero when empty) and a message under it.
type dateFilter struct {
	entry *widget.Entry
	msg   *widget.Label
	box   *fyne.Container
	value time.Time
}

func newDateFilter(placeholder string, changed func(*dateFilter)) *dateFilter {
	d := &dateFilter{entry: widget.NewEntry(), msg: widget.NewLabel("")}
	d.entry.SetPlaceHolder(placeholder)
	d.msg.Importance = widget.DangerImportance
	d.msg.Hide()
	d.box = container.NewVBox(d.entry, d.msg)
	d.entry.OnChanged = func(string) { changed(d) }
	return d
}

func (d *dateFilter) setMsg(m string) {
	d.msg.SetText(m)
	if m == "" {
		d.msg.Hide()
	} else {
		d.msg.Show()
	}
}

// parseFilterDate reads a YYYY-MM-DD filter date; "" is no bound.
func parseFilterDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a date: use YYYY-MM-DD, e.g. 2025-03-31")
	}
	return t, nil
}

// dateChanged applies the date range after d was edited. Both ends are
// read again from their entries; an invalid date, or a range that ends
// before it starts, is explained under the field and leaves the list as it
// was (each end keeps its last valid date).
func (v *recordsView) dateChanged(d *dateFilter) {
	shown := v.from.msg.Visible() || v.to.msg.Visible()
	defer func() {
		if v.root != nil && shown != (v.from.msg.Visible() || v.to.msg.Visible()) {
			v.root.Refresh() // a message appeared or went: make room for it
		}
	}()
	from, ferr := parseFilterDate(v.from.entry.Text)
	to, terr := parseFilterDate(v.to.entry.Text)
	v.from.setMsg(errText(ferr))
	v.to.setMsg(errText(terr))
	if ferr != nil || terr != nil {
		return
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		d.setMsg("the range ends before it starts")
		return
	}
	if from.Equal(v.from.value) && to.Equal(v.to.value) {
		return
	}
	v.from.value, v.to.value = from, to
	v.requery()
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// more fetches the next page if there is one and none is loading.
func (v *recordsView) more() {
	if v.loading || v.next == "" {
		return
	}
	v.fetch(v.next)
}

// fetch loads one page off the UI goroutine and appends it.
func (v *recordsView) fetch(cursor string) {
	v.loading = true
	q, gen, qctx := v.q, v.gen, v.qctx
	q.Cursor = cursor
	load(v.u, func(_ context.Context, st *storage.Store) (storage.Page, error) {
		return st.List(qctx, q) // qctx ends with the app's context too
	}, func(p storage.Page, err error) {
		if gen != v.gen {
			return
		}
		v.loading = false
		if err != nil {
			v.u.showError("Listing records", err)
			return
		}
		v.items = append(v.items, p.Records...)
		v.next = p.Next
		more := ""
		if v.next != "" {
			more = "+"
		}
		v.count.SetText(fmt.Sprintf("%d%s records", len(v.items), more))
		if v.row1 != nil {
			v.row1.Refresh() // the count's width changed: lay the row out again
		}
		v.list.Refresh()
	})
}

// openRecord loads a record and opens it in its form.
func (u *UI) openRecord(id string) {
	load(u, func(ctx context.Context, st *storage.Store) (*storage.Record, error) {
		return st.Get(ctx, id)
	}, func(r *storage.Record, err error) {
		if err != nil {
			u.showError("Opening record", err)
			return
		}
		if r.Conflicted {
			u.openConflict(r.ID)
			return
		}
		u.openForm(r)
	})
}

// showHistory lists every revision of a record: generation, time, device
// and which fields changed (field labels only, never values).
func (u *UI) showHistory(id string) {
	load(u, func(ctx context.Context, st *storage.Store) ([]*record.Revision, error) {
		return st.History(ctx, id)
	}, func(revs []*record.Revision, err error) {
		if err != nil {
			u.showError("History", err)
			return
		}
		lines := u.historyLines(revs)
		l := widget.NewLabel(strings.Join(lines, "\n"))
		d := dialog.NewCustom("History", "Close", container.NewVScroll(l), u.win)
		d.Resize(fyne.NewSize(760, 420))
		d.Show()
	})
}

// historyLines describes each revision: generation and hash prefix, time,
// device and what changed (field labels only, never values).
func (u *UI) historyLines(revs []*record.Revision) []string {
	byRev := map[string]*record.Revision{}
	for _, r := range revs {
		byRev[r.Rev] = r
	}
	lines := []string{}
	for _, r := range revs {
		what := "created"
		if r.Deleted {
			what = "deleted"
		} else if len(r.Parents) > 1 {
			what = "merge of a conflict"
		} else if len(r.Parents) == 1 {
			if p := byRev[r.Parents[0]]; p != nil {
				what = "changed: " + strings.Join(u.changedLabels(r.FormID, r.FormVersion, p.Data, r.Data), ", ")
			}
		}
		who := r.DeviceID
		if who == "" {
			who = "this device"
		}
		lines = append(lines, fmt.Sprintf("%s  %s  %s — %s", r.Rev[:min(len(r.Rev), 10)], r.SavedAt.Local().Format("2006-01-02 15:04"), who, what))
	}
	if len(lines) == 0 {
		lines = append(lines, "No saved revision yet: this record is a draft.")
	}
	return lines
}

// changedLabels lists the labels of fields whose values differ.
func (u *UI) changedLabels(formID string, version int, a, b map[string]any) []string {
	f, err := u.reg.Get(formID, version)
	if err != nil {
		return []string{"(unknown form)"}
	}
	var out []string
	for _, fd := range f.Fields {
		if !sameValue(a[fd.ID], b[fd.ID]) {
			out = append(out, fd.Label)
		}
	}
	if len(out) == 0 {
		out = append(out, "nothing")
	}
	return out
}
