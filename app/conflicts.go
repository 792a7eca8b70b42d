package app

import (
	"context"
	"fmt"
	"sort"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/storage"
)

// conflictsView lists conflicted records; one opens in a mergeView.
type conflictsView struct {
	u     *UI
	items []storage.Summary
	list  *widget.List
	info  *widget.Label
}

func (u *UI) newConflictsView() fyne.CanvasObject {
	v := &conflictsView{u: u, info: widget.NewLabel("Loading…")}
	u.confl = v
	v.list = widget.NewList(func() int { return len(v.items) },
		func() fyne.CanvasObject { return widget.NewLabel("conflict") },
		func(i widget.ListItemID, o fyne.CanvasObject) {
			o.(*widget.Label).SetText(summaryLine(u, v.items[i]))
		})
	v.list.OnSelected = func(i widget.ListItemID) {
		id := v.items[i].ID
		v.list.UnselectAll()
		u.openConflict(id)
	}
	v.reload()
	intro := widget.NewLabel("Two devices changed these records while offline. Both versions are kept; open one to choose, field by field, what the record should say.")
	intro.Wrapping = fyne.TextWrapWord
	return titled("Conflicts", container.NewBorder(container.NewVBox(intro, v.info), nil, nil, nil, v.list))
}

// reload lists every conflicted record, page by page, off the UI goroutine.
func (v *conflictsView) reload() {
	load(v.u, func(ctx context.Context, st *storage.Store) ([]storage.Summary, error) {
		var out []storage.Summary
		q := storage.Query{Status: storage.StatusConflict, Limit: 500}
		for {
			p, err := st.List(ctx, q)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Records...)
			if p.Next == "" || len(out) >= 5000 {
				return out, nil
			}
			q.Cursor = p.Next
		}
	}, func(items []storage.Summary, err error) {
		if err != nil {
			v.u.showError("Listing conflicts", err)
			return
		}
		v.items = items
		if len(items) == 0 {
			v.info.SetText("No conflicts. Nothing to do.")
		} else {
			v.info.SetText(fmt.Sprintf("%d record(s) in conflict.", len(items)))
		}
		v.list.Refresh()
	})
}

// mergeView shows the live versions of a conflicted record side by side.
type mergeView struct {
	u        *UI
	id       string
	form     *forms.Form
	versions []*record.Revision // winner first
	choice   map[string]int     // field id -> chosen version, for differing fields
	checks   map[string][]*widget.Check
	msg      *widget.Label
}

// openConflict loads a record's live leaves and shows the merge view.
func (u *UI) openConflict(id string) {
	type loaded struct {
		rec  *storage.Record
		hist []*record.Revision
	}
	load(u, func(ctx context.Context, st *storage.Store) (loaded, error) {
		r, err := st.Get(ctx, id)
		if err != nil {
			return loaded{}, err
		}
		h, err := st.History(ctx, id)
		return loaded{r, h}, err
	}, func(l loaded, err error) {
		if err != nil {
			u.showError("Opening conflict", err)
			return
		}
		m, err := u.newMergeView(l.rec, l.hist)
		if err != nil {
			u.showError("Opening conflict", err)
			return
		}
		u.leave(3)
		u.setBody(m.render())
		u.merge = m
	})
}

func (u *UI) newMergeView(r *storage.Record, hist []*record.Revision) (*mergeView, error) {
	byRev := map[string]*record.Revision{}
	for _, h := range hist {
		byRev[h.Rev] = h
	}
	m := &mergeView{u: u, id: r.ID, choice: map[string]int{}, checks: map[string][]*widget.Check{}, msg: widget.NewLabel("")}
	m.msg.Wrapping = fyne.TextWrapWord
	var live []record.Leaf
	for _, l := range r.Leaves {
		if !l.Deleted {
			live = append(live, l)
		}
	}
	// Winner first, then the others by the winner rule.
	sort.Slice(live, func(i, j int) bool { return record.Better(live[i], live[j]) })
	for _, l := range live {
		rev := byRev[l.Rev]
		if rev == nil {
			return nil, fmt.Errorf("revision %s of %s is missing from its history", l.Rev, r.ID)
		}
		m.versions = append(m.versions, rev)
	}
	if len(m.versions) < 2 {
		return nil, fmt.Errorf("record %s has no conflict to resolve", r.ID)
	}
	f, err := u.reg.Get(m.versions[0].FormID, m.versions[0].FormVersion)
	if err != nil {
		return nil, err
	}
	m.form = f
	return m, nil
}

// differs reports whether the versions disagree on field id.
func (m *mergeView) differs(id string) bool {
	for _, v := range m.versions[1:] {
		if !sameValue(m.versions[0].Data[id], v.Data[id]) {
			return true
		}
	}
	return false
}

func (m *mergeView) render() fyne.CanvasObject {
	cols := len(m.versions) + 1
	bold := fyne.TextStyle{Bold: true}
	grid := container.NewGridWithColumns(cols, widget.NewLabelWithStyle("Field", fyne.TextAlignLeading, bold))
	for i, v := range m.versions {
		who := v.DeviceID
		if who == "" {
			who = "this device"
		}
		grid.Add(widget.NewLabelWithStyle(fmt.Sprintf("Version %c\n%s, %s", 'A'+i, v.SavedAt.Local().Format("2006-01-02 15:04"), who), fyne.TextAlignLeading, bold))
	}
	ndiff := 0
	for fi := range m.form.Fields {
		fd := &m.form.Fields[fi]
		if fd.Type == forms.TypeCalculated || fd.Type == forms.TypeNote {
			continue
		}
		diff := m.differs(fd.ID)
		l := widget.NewLabel(fd.Label)
		if diff {
			l.TextStyle = bold
			l.Importance = widget.WarningImportance
			ndiff++
		}
		grid.Add(l)
		for vi, v := range m.versions {
			text := displayValue(fd, v.Data[fd.ID])
			if !diff {
				lab := widget.NewLabel(text)
				lab.Truncation = fyne.TextTruncateEllipsis
				grid.Add(lab)
				continue
			}
			id, vi := fd.ID, vi
			c := widget.NewCheck(text, nil)
			c.OnChanged = func(on bool) {
				if on {
					m.pick(id, vi)
				} else if m.choice[id] == vi {
					c.SetChecked(true) // one version is always chosen
				}
			}
			m.checks[id] = append(m.checks[id], c)
			grid.Add(c)
		}
	}
	for id := range m.checks {
		m.pick(id, 0)
	}
	buttons := container.NewHBox()
	for i := range m.versions {
		buttons.Add(widget.NewButton(fmt.Sprintf("Keep version %c", 'A'+i), func() { m.keep(i) }))
	}
	save := widget.NewButton("Save merged record", func() { m.save() })
	save.Importance = widget.HighImportance
	buttons.Add(save)
	intro := widget.NewLabel(fmt.Sprintf("%s: %d field(s) differ. Tick the right value of each, or keep one version whole, then save: the merge replaces both versions on every device.", m.form.Title, ndiff))
	intro.Wrapping = fyne.TextWrapWord
	return titled("Resolve conflict", container.NewBorder(container.NewVBox(intro, buttons, m.msg), nil, nil, nil, container.NewVScroll(grid)))
}

// pick chooses version vi for field id.
func (m *mergeView) pick(id string, vi int) {
	m.choice[id] = vi
	for i, c := range m.checks[id] {
		if c.Checked != (i == vi) {
			c.Checked = i == vi
			c.Refresh()
		}
	}
}

// keep chooses version vi for every differing field.
func (m *mergeView) keep(vi int) {
	for id := range m.checks {
		m.pick(id, vi)
	}
}

// merged is the data of the merge revision.
func (m *mergeView) merged() map[string]any {
	out := map[string]any{}
	for k, v := range m.versions[0].Data {
		out[k] = v
	}
	for id, vi := range m.choice {
		if v, ok := m.versions[vi].Data[id]; ok {
			out[id] = v
		} else {
			delete(out, id)
		}
	}
	return out
}

// save stores the merge revision (parents: every leaf).
func (m *mergeView) save() bool {
	m.u.touch()
	if _, err := m.u.store.Edit(m.u.ctx, m.id, m.merged()); err != nil {
		m.msg.Importance = widget.DangerImportance
		m.msg.SetText("Cannot save the merge: " + err.Error())
		return false
	}
	if m.u.engine != nil {
		m.u.engine.Nudge()
	}
	m.u.merge = nil
	m.u.show(3)
	m.u.setStatus("Conflict resolved: the merged record waits to sync.")
	return true
}
