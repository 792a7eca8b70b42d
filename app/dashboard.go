package app

import (
	"context"
	"fmt"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/ccmcollect/ccmcollect/storage"
)

// dashboard shows records per form and status, the hub's state and buttons
// for the common tasks.
type dashboard struct {
	u      *UI
	grid   *fyne.Container
	hub    *widget.Label
	counts map[string]map[storage.Status]int
}

// queueCounts are the outbox figures read from the store.
type queueCounts struct{ pending, rejected int }

func (u *UI) newDashboard() fyne.CanvasObject {
	d := &dashboard{u: u, grid: container.NewGridWithColumns(len(statusOrder) + 2), hub: widget.NewLabel("")}
	u.dash = d
	d.render()
	d.reload()

	newCas := widget.NewButtonWithIcon("New casualty", theme.ContentAddIcon(), func() { u.openNew("casualty") })
	newCas.Importance = widget.HighImportance
	actions := container.NewHBox(
		newCas,
		widget.NewButtonWithIcon("New record…", theme.DocumentCreateIcon(), func() { u.show(2) }),
		widget.NewButtonWithIcon("Records", theme.ListIcon(), func() { u.show(1) }),
		widget.NewButtonWithIcon("Conflicts", theme.WarningIcon(), func() { u.show(3) }),
		widget.NewButtonWithIcon("Sync now", theme.ViewRefreshIcon(), func() { u.show(4); u.syncNow() }),
		widget.NewButtonWithIcon("Needs report", theme.DocumentPrintIcon(), func() { u.show(5) }),
	)
	head := widget.NewLabelWithStyle("Records by form and status", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	hubHead := widget.NewLabelWithStyle("Hub", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	return titled("Dashboard", container.NewVScroll(container.NewVBox(actions, widget.NewSeparator(), head, d.grid, widget.NewSeparator(), hubHead, d.hub)))
}

// reload fetches the counters off the UI goroutine.
func (d *dashboard) reload() {
	load(d.u, func(ctx context.Context, st *storage.Store) (map[string]map[storage.Status]int, error) {
		return st.Counts(ctx)
	}, func(c map[string]map[storage.Status]int, err error) {
		if err != nil {
			d.u.showError("Counting records", err)
			return
		}
		d.counts = c
		d.render()
	})
}

// render draws the counts table and the hub state (UI goroutine).
func (d *dashboard) render() {
	bold := fyne.TextStyle{Bold: true}
	objs := []fyne.CanvasObject{widget.NewLabelWithStyle("Form", fyne.TextAlignLeading, bold)}
	for _, s := range statusOrder {
		objs = append(objs, widget.NewLabelWithStyle(statusLabels[s], fyne.TextAlignTrailing, bold))
	}
	objs = append(objs, widget.NewLabelWithStyle("Total", fyne.TextAlignTrailing, bold))
	totals := make([]int, len(statusOrder)+1)
	for _, f := range d.u.reg.Forms() {
		c := d.counts[f.ID]
		formID := f.ID
		link := widget.NewButton(f.Title, func() { d.u.openRecords(formID) })
		link.Importance = widget.LowImportance
		link.Alignment = widget.ButtonAlignLeading
		objs = append(objs, link)
		sum := 0
		for i, s := range statusOrder {
			n := c[s]
			sum += n
			totals[i] += n
			l := widget.NewLabelWithStyle(strconv.Itoa(n), fyne.TextAlignTrailing, fyne.TextStyle{})
			if n > 0 && (s == storage.StatusConflict || s == storage.StatusRejected) {
				l.Importance = widget.DangerImportance
			}
			objs = append(objs, l)
		}
		totals[len(statusOrder)] += sum
		objs = append(objs, widget.NewLabelWithStyle(strconv.Itoa(sum), fyne.TextAlignTrailing, bold))
	}
	objs = append(objs, widget.NewLabelWithStyle("All forms", fyne.TextAlignLeading, bold))
	for _, n := range totals {
		objs = append(objs, widget.NewLabelWithStyle(strconv.Itoa(n), fyne.TextAlignTrailing, bold))
	}
	d.grid.Objects = objs
	d.grid.Refresh()

	s := d.u.syncStatus()
	reach := "not set up: enter the hub address and enrolment token under Sync"
	if s.Configured {
		reach = "offline (records wait safely in the outbox)"
		if s.Online {
			reach = "reachable"
		}
	}
	last := "never"
	if !s.LastSuccess.IsZero() {
		last = ago(d.u.now(), s.LastSuccess)
	}
	d.hub.SetText(fmt.Sprintf("Hub: %s\nLast successful sync: %s\nWaiting to sync: %d   Rejected by the hub: %d", reach, last, d.u.queue.pending, d.u.queue.rejected))
}
