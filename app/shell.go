package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/ccmcollect/ccmcollect/storage"
	ccmsync "github.com/ccmcollect/ccmcollect/sync"
)

// statusLabels are the words field staff read for each record status.
var statusLabels = map[storage.Status]string{
	storage.StatusDraft:    "Draft",
	storage.StatusPending:  "Waiting to sync",
	storage.StatusSynced:   "Synced",
	storage.StatusRejected: "Rejected",
	storage.StatusConflict: "Conflict",
}

// statusOrder is the order of status columns and filters.
var statusOrder = []storage.Status{storage.StatusDraft, storage.StatusPending, storage.StatusSynced, storage.StatusRejected, storage.StatusConflict}

// load runs work off the UI goroutine and applies its result in one fyne.Do,
// unless the store was locked or closed in the meantime.
func load[T any](u *UI, work func(ctx context.Context, st *storage.Store) (T, error), apply func(T, error)) {
	st, gen, inUse := u.store, u.lockGen, u.inUse
	if st == nil {
		return
	}
	inUse.Add(1)
	u.goBG(func(ctx context.Context) {
		v, err := work(ctx, st)
		inUse.Done()
		u.do(func() {
			if gen != u.lockGen || u.ctx.Err() != nil {
				return
			}
			apply(v, err)
		})
	})
}

// unlocked shows the main screen over an open store.
func (u *UI) unlocked(st *storage.Store) {
	u.store = st
	u.inUse = new(sync.WaitGroup)
	u.unlockUI = nil
	u.touch()
	u.startServices()

	u.statusBar = widget.NewLabel("")
	u.statusBar.Truncation = fyne.TextTruncateEllipsis
	u.syncInd = widget.NewLabel("")
	u.progress = container.NewStack()
	u.body = container.NewStack()

	u.screens = []screen{
		{"Dashboard", func() fyne.CanvasObject { return u.newDashboard() }},
		{"Records", func() fyne.CanvasObject { return u.newRecordsView("") }},
		{"New record", func() fyne.CanvasObject { return u.newFormPicker() }},
		{"Conflicts", func() fyne.CanvasObject { return u.newConflictsView() }},
		{"Sync", func() fyne.CanvasObject { return u.newSyncView() }},
		{"Reports", func() fyne.CanvasObject { return u.newReportsView() }},
		{"Settings", func() fyne.CanvasObject { return u.newSettingsView() }},
	}
	navBox := container.NewVBox()
	for i, s := range u.screens {
		navBox.Add(widget.NewButton(s.title, func() { u.show(i) }))
	}
	lockBtn := widget.NewButtonWithIcon("Lock", theme.LoginIcon(), func() { u.lock() })
	if u.opts.Demo {
		lockBtn.Disable()
	}
	nav := container.NewBorder(nil, lockBtn, nil, nil, navBox)
	bottom := container.NewBorder(nil, nil, container.NewHBox(u.syncInd, widget.NewSeparator()), nil, container.NewGridWithColumns(2, u.statusBar, u.progress))
	u.bottom = bottom
	u.win.SetContent(container.NewBorder(nil, container.NewVBox(widget.NewSeparator(), bottom), container.NewHBox(nav, widget.NewSeparator()), nil, u.body))
	u.updateSyncIndicator(u.syncStatus())
	u.loadSettings()
	u.win.Canvas().SetOnTypedKey(func(ev *fyne.KeyEvent) { u.touch() })
	u.show(0)
}

// reloadQueue reads the records waiting for or rejected by the hub off the UI goroutine and updates the
// indicator.
func (u *UI) reloadQueue() {
	// From the store's maintained counters (records, not revisions):
	// scanning the outbox would cost time proportional to its length.
	load(u, func(ctx context.Context, st *storage.Store) (queueCounts, error) {
		var q queueCounts
		c, err := st.Counts(ctx)
		for _, m := range c {
			q.pending += m[storage.StatusPending]
			q.rejected += m[storage.StatusRejected]
		}
		return q, err
	}, func(q queueCounts, err error) {
		if err != nil {
			u.showError("Reading the outbox", err)
			return
		}
		u.queue, u.queueKnown = q, true
		u.updateSyncIndicator(u.syncStatus())
		if u.dash != nil {
			u.dash.render()
		}
	})
}

// show opens screen i.
func (u *UI) show(i int) {
	u.leave(i)
	u.setBody(u.screens[i].make())
}

// leave closes whatever the main area shows before screen i (or a form,
// or a conflict, of section i) replaces it: the open form is autosaved,
// the records listing stops.
func (u *UI) leave(i int) {
	u.touch()
	u.flushOpenForm()
	u.reloadQueue()
	u.form, u.merge = nil, nil
	u.current = i
	if u.records != nil && u.records.cancel != nil {
		u.records.cancel()
	}
	u.dash, u.records, u.confl, u.syncv, u.reportv, u.settingsv = nil, nil, nil, nil, nil, nil
}

// setProgress puts o (a progress bar, or nil) in the status area.
func (u *UI) setProgress(o fyne.CanvasObject) {
	if u.progress == nil {
		return
	}
	if o == nil {
		u.progress.Objects = nil
	} else {
		u.progress.Objects = []fyne.CanvasObject{o}
	}
	u.progress.Refresh()
}

// refreshAll reloads whatever screen is showing.
func (u *UI) refreshAll() {
	u.reloadQueue()
	if u.dash != nil {
		u.dash.reload()
	}
	if u.records != nil {
		u.records.reload()
	}
	if u.confl != nil {
		u.confl.reload()
	}
}

// flushOpenForm autosaves the open form, if any, as a draft.
func (u *UI) flushOpenForm() {
	if u.form != nil {
		u.form.autosave()
	}
}

// startServices creates the sync engine over the store and, in a real
// window, runs it and watches its status.
func (u *UI) startServices() {
	eng, err := ccmsync.New(ccmsync.Options{Store: u.store, Now: u.now, Logger: u.log})
	if err != nil {
		u.log.Warn("sync engine", "err", err)
		return
	}
	u.engine = eng
	if !u.opts.Background {
		return
	}
	ctx, cancel := context.WithCancel(u.ctx)
	u.stopSync = cancel
	u.bg.Add(2)
	go func() {
		defer u.bg.Done()
		if err := eng.Run(ctx); err != nil && ctx.Err() == nil {
			u.log.Warn("sync engine stopped", "err", err)
		}
	}()
	ch, unsub := eng.Subscribe()
	go func() {
		defer u.bg.Done()
		defer unsub()
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-ch:
				u.do(func() {
					if u.engine == eng {
						u.updateSyncIndicator(s)
						if u.syncv != nil {
							u.syncv.apply(s)
						}
					}
				})
			}
		}
	}()
}

// stopServices stops the sync engine and its watcher.
func (u *UI) stopServices() {
	if u.stopSync != nil {
		u.stopSync()
		u.stopSync = nil
	}
	if u.engine != nil {
		if err := u.engine.Close(); err != nil {
			u.log.Warn("closing sync engine", "err", err)
		}
		u.engine = nil
	}
}

// syncStatus is the engine's status, or the zero status without engine.
func (u *UI) syncStatus() ccmsync.Status {
	if u.engine == nil {
		return ccmsync.Status{}
	}
	return u.engine.Status()
}

// updateSyncIndicator sets the always-visible sync indicator.
func (u *UI) updateSyncIndicator(s ccmsync.Status) {
	if u.syncInd == nil {
		return
	}
	// The store's outbox is the truth about what waits; the engine only
	// counts it while syncing.
	if u.queueKnown && !s.Syncing {
		s.Pending, s.Rejected = u.queue.pending, u.queue.rejected
	}
	if text := syncSummary(s, u.now()); text != u.syncInd.Text {
		u.syncInd.SetText(text)
		if u.bottom != nil {
			u.bottom.Refresh() // the indicator's width changed: lay the line out again
		}
	}
}

// syncSummary is the one-line sync state the indicator shows.
func syncSummary(s ccmsync.Status, now time.Time) string {
	var state string
	switch {
	case !s.Configured:
		state = "Hub: not set up"
	case s.Syncing:
		state = "Syncing…"
	case s.Online:
		state = "Hub: online"
	default:
		state = "Hub: offline"
	}
	last := "never synced"
	if !s.LastSuccess.IsZero() {
		last = "last sync " + ago(now, s.LastSuccess)
	}
	out := fmt.Sprintf("● %s · %s · %d waiting", state, last, s.Pending)
	if s.Rejected > 0 {
		out += fmt.Sprintf(" · %d rejected", s.Rejected)
	}
	return out
}

// ago says how long ago t was, for people.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	default:
		return t.Local().Format("2 Jan 2006 15:04")
	}
}
