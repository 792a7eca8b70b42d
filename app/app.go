// Package app is the CCM Collect desktop UI, built with Fyne. It receives
// the fyne.App and its services as parameters (only package main imports
// fyne.io/fyne/v2/app) and keeps to one threading rule: widget callbacks
// run on the UI goroutine, and long work (opening the store, bulk loads,
// sync, reports) runs in goroutines that touch widgets only inside a single
// fyne.Do call at the end (snapshot, compute off the UI goroutine, apply).
//
// Sensitive fields (a casualty's name and contact) are shown only inside
// the form of their record: never in list titles, the dashboard or logs.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/storage"
	ccmsync "github.com/ccmcollect/ccmcollect/sync"
)

// DemoPassphrase is the fixed passphrase of the throwaway demo store.
const DemoPassphrase = "demo"

// Options configure a UI. Zero values are sensible defaults.
type Options struct {
	// DataDir is the store's directory. In demo mode it is ignored and a
	// temporary directory is used, removed by Close.
	DataDir string
	// Demo opens a throwaway store filled with generated records.
	Demo bool
	// DemoRecords is the size of the demo data set; 0 means 3000.
	DemoRecords int
	// Forms is the form registry; nil means forms.Builtin().
	Forms *forms.Registry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// IdleLock is how long without input locks the app; 0 means ten
	// minutes, negative never. It is the default: a time saved in the
	// Settings screen (SettingLockAfter) replaces it once the store is
	// unlocked, unless LockAfterFixed.
	IdleLock time.Duration
	// LockAfterFixed makes IdleLock override the stored setting (the
	// --lock-after flag was given explicitly); Settings then shows it
	// read-only.
	LockAfterFixed bool
	// Background starts the long-lived goroutines of a real window: the
	// idle-lock ticker, the sync engine's Run loop and the status watcher
	// that keeps the sync indicator current. Tests leave it off and drive
	// the same code paths (checkIdle, Sync now) explicitly.
	Background bool
	// ReportsDir is where reports and exports are saved by default; ""
	// means "CCM Collect reports" in the user's home directory.
	ReportsDir string
	// Logger receives operational messages, never record contents.
	Logger *slog.Logger

	// queueDo makes do queue its functions for runQueued instead of calling
	// fyne.Do: tests then run them on the test goroutine, as the real
	// driver runs them on the UI goroutine (the test driver would run them
	// at once on the background goroutine).
	queueDo bool
}

// UI is one window of the app and everything it owns: the open store and
// the background goroutines working for it. Its methods, except Close,
// run on the UI goroutine.
type UI struct {
	app  fyne.App
	win  fyne.Window
	opts Options
	reg  *forms.Registry
	now  func() time.Time
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup // background work; Close waits for it

	doMu      sync.Mutex // serialises do; guards queued
	queued    []func()
	mu        sync.Mutex // guards lastInput (the idle goroutine reads it)
	lastInput time.Time

	store   *storage.Store  // nil while locked
	inUse   *sync.WaitGroup // background work using store; the store closes after it
	closed  chan struct{}   // closed once the last locked store is closed
	dataDir string
	tempDir string // demo data directory, removed by Close

	// Always-visible parts of the main screen.
	statusBar *widget.Label
	bottom    *fyne.Container // the status line: sync indicator, status, progress
	body      *fyne.Container
	screens   []screen
	current   int

	// Screens that need refreshing from outside.
	dash    *dashboard
	records *recordsView
	confl   *conflictsView
	syncv   *syncView

	lockGen int // bumped on every lock; stale async results are dropped

	idleLock  time.Duration // in effect: Options.IdleLock or the stored setting
	themeName string        // "system", "light" or "dark"
	settingsv *settingsView

	queue      queueCounts // outbox figures from the store
	queueKnown bool
	unlockUI   *unlockForm // the passphrase screen while locked
	progress   *fyne.Container
	syncInd    *widget.Label
	engine     *ccmsync.Engine
	stopSync   context.CancelFunc
	form       *formView  // the open form, if any
	merge      *mergeView // the open conflict, if any
	reportv    *reportsView
}

type screen struct {
	title string
	make  func() fyne.CanvasObject
}

// New builds the UI in a new window of a and shows the unlock screen (or, in
// demo mode, opens and fills the demo store). Call Window().ShowAndRun() or
// Show(), and Close when done.
func New(a fyne.App, o Options) *UI {
	if o.Forms == nil {
		o.Forms = forms.Builtin()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IdleLock == 0 {
		o.IdleLock = 10 * time.Minute
	}
	if o.DemoRecords == 0 {
		o.DemoRecords = 3000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	u := &UI{
		app: a, opts: o, reg: o.Forms, now: o.Now, log: o.Logger,
		ctx: ctx, cancel: cancel, dataDir: o.DataDir, idleLock: o.IdleLock,
	}
	u.win = a.NewWindow("CCM Collect")
	u.win.Resize(fyne.NewSize(1280, 720))
	u.win.SetMaster()
	u.win.SetOnClosed(func() {
		if u.store != nil {
			u.flushOpenForm() // closing the window keeps what was typed
		}
	})
	u.win.Canvas().SetOnTypedKey(func(*fyne.KeyEvent) { u.touch() })
	u.win.Canvas().SetOnTypedRune(func(rune) { u.touch() })
	u.touch()
	if o.Demo {
		u.startDemo()
	} else {
		u.showUnlock()
	}
	if o.Background {
		u.goBG(func(ctx context.Context) {
			t := time.NewTicker(15 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					u.do(u.checkIdle)
				}
			}
		})
	}
	return u
}

// Window returns the app's window.
func (u *UI) Window() fyne.Window { return u.win }

// Close stops background work, waits for it, closes the store and removes
// the demo directory. It is safe to call more than once.
func (u *UI) Close() error {
	u.cancel()
	u.bg.Wait()
	var err error
	if u.store != nil {
		u.stopServices()
		err = u.store.Close()
		u.store = nil
	}
	if u.tempDir != "" {
		if rerr := os.RemoveAll(u.tempDir); rerr != nil && err == nil {
			err = rerr
		}
		u.tempDir = ""
	}
	return err
}

// goBG runs f in a goroutine owned by the UI: Close cancels its context and
// waits for it.
func (u *UI) goBG(f func(ctx context.Context)) {
	u.bg.Add(1)
	go func() {
		defer u.bg.Done()
		f(u.ctx)
	}()
}

// touch records user input for the idle lock.
func (u *UI) touch() {
	u.mu.Lock()
	u.lastInput = u.now()
	u.mu.Unlock()
}

// checkIdle locks the app when nothing was typed or tapped for IdleLock.
func (u *UI) checkIdle() {
	if u.store == nil || u.idleLock < 0 || u.opts.Demo {
		return
	}
	u.mu.Lock()
	idle := u.now().Sub(u.lastInput)
	u.mu.Unlock()
	if idle >= u.idleLock {
		u.lock()
	}
}

// lock closes the store and shows the unlock screen. Unsaved form input is
// kept as a draft by autosave before the store closes.
func (u *UI) lock() {
	if u.store == nil {
		return
	}
	u.flushOpenForm()
	u.lockGen++
	u.stopServices()
	// Background work may still be reading the store (a report, a page):
	// close it once that work is done, off the UI goroutine. Unlocking
	// again waits for this.
	st, inUse, closed := u.store, u.inUse, make(chan struct{})
	u.closed = closed
	u.goBG(func(context.Context) {
		defer close(closed)
		inUse.Wait()
		if err := st.Close(); err != nil {
			u.log.Warn("closing store on lock", "err", err)
		}
	})
	u.store = nil
	u.dash, u.records, u.confl, u.syncv, u.settingsv = nil, nil, nil, nil, nil
	u.idleLock = u.opts.IdleLock // the stored setting is read again on unlock
	u.showUnlock()
}

// setStatus shows msg in the status bar (UI goroutine).
func (u *UI) setStatus(msg string) {
	if u.statusBar != nil {
		u.statusBar.SetText(msg)
	}
}

// showError reports err in a dialog-free way: in the status bar, because
// dialogs steal the keyboard focus from field staff mid-entry.
func (u *UI) showError(what string, err error) {
	u.setStatus(fmt.Sprintf("%s: %v", what, err))
}

// setBody replaces the main area.
func (u *UI) setBody(o fyne.CanvasObject) {
	if u.body == nil {
		return
	}
	u.body.Objects = []fyne.CanvasObject{o}
	u.body.Refresh()
}

// padded wraps content with a title.
func titled(title string, content fyne.CanvasObject) fyne.CanvasObject {
	h := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	return container.NewBorder(h, nil, nil, nil, content)
}

// do applies f on the UI goroutine through fyne.Do. Calls from different
// goroutines are serialised: the real driver queues them anyway, and with
// the test driver (which runs f at once on the calling goroutine) this keeps
// two background results from touching widgets at the same time.
func (u *UI) do(f func()) {
	u.doMu.Lock()
	defer u.doMu.Unlock()
	if u.opts.queueDo {
		u.queued = append(u.queued, f)
		return
	}
	fyne.Do(f)
}

// runQueued runs the functions queued by do, in order, until background
// work is done and nothing is queued (tests only; UI goroutine).
func (u *UI) runQueued() {
	for {
		u.bg.Wait()
		u.doMu.Lock()
		q := u.queued
		u.queued = nil
		u.doMu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, f := range q {
			f()
		}
	}
}
