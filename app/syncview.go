package app

import (
	"context"
	"errors"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/ccmcollect/ccmcollect/storage"
	ccmsync "github.com/ccmcollect/ccmcollect/sync"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// syncView holds the hub settings, "Sync now" with its progress, and the
// records the hub rejected.
type syncView struct {
	u        *UI
	url      *widget.Entry
	token    *widget.Entry
	insecure *widget.Check
	connect  *widget.Button
	who      *widget.Label
	state    *widget.Label
	bar      *widget.ProgressBar
	now      *widget.Button
	result   *widget.Label
	rejected *fyne.Container
}

func (u *UI) newSyncView() fyne.CanvasObject {
	v := &syncView{u: u, who: widget.NewLabel(""), state: widget.NewLabel(""), bar: widget.NewProgressBar(), result: widget.NewLabel(""), rejected: container.NewVBox()}
	u.syncv = v
	v.url = widget.NewEntry()
	v.url.SetPlaceHolder("https://hub.example.org")
	v.token = widget.NewPasswordEntry()
	v.token.SetPlaceHolder("Enrolment token from your hub administrator")
	v.insecure = widget.NewCheck("Allow plain http:// (only on a trusted local network)", nil)
	v.connect = widget.NewButton("Check and save", func() { v.doConnect() })
	v.token.OnSubmitted = func(string) { v.doConnect() }
	v.now = widget.NewButton("Sync now", func() { u.syncNow() })
	v.now.Importance = widget.HighImportance
	v.result.Wrapping = fyne.TextWrapWord
	v.who.Wrapping = fyne.TextWrapWord
	v.bar.Hide()
	v.apply(u.syncStatus())
	v.loadSettings()
	v.loadRejected()

	settings := widget.NewForm(
		widget.NewFormItem("Hub address", v.url),
		widget.NewFormItem("Device token", v.token),
	)
	bold := fyne.TextStyle{Bold: true}
	top := container.NewVBox(
		widget.NewLabelWithStyle("Hub connection", fyne.TextAlignLeading, bold),
		settings, v.insecure, container.NewHBox(v.connect), v.who,
		widget.NewSeparator(),
		widget.NewLabelWithStyle("Sync", fyne.TextAlignLeading, bold),
		v.state, container.NewBorder(nil, nil, v.now, nil, v.bar), v.result,
		widget.NewSeparator(),
		widget.NewLabelWithStyle("Rejected by the hub", fyne.TextAlignLeading, bold),
		v.rejected,
	)
	return titled("Sync", container.NewVScroll(top))
}

// loadSettings shows the stored hub URL and identity (never the token).
func (v *syncView) loadSettings() {
	type cfg struct {
		url string
		id  storage.Identity
	}
	load(v.u, func(ctx context.Context, st *storage.Store) (cfg, error) {
		var c cfg
		b, err := st.Setting(ctx, ccmsync.SettingHubURL)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return c, err
		}
		c.url = string(b)
		c.id, err = st.Identity(ctx)
		if errors.Is(err, storage.ErrNotFound) {
			err = nil
		}
		return c, err
	}, func(c cfg, err error) {
		if err != nil {
			v.u.showError("Reading settings", err)
			return
		}
		if v.url.Text == "" {
			v.url.SetText(c.url)
		}
		if c.url != "" {
			v.who.SetText(fmt.Sprintf("Connected as %q (%s) for programme %s.", c.id.DeviceName, c.id.Role, c.id.Programme))
		}
	})
}

// doConnect checks the URL and token with the hub's whoami and stores them.
func (v *syncView) doConnect() {
	v.u.touch()
	url, token, insecure := v.url.Text, v.token.Text, v.insecure.Checked
	v.connect.Disable()
	v.who.SetText("Checking with the hub…")
	load(v.u, func(ctx context.Context, st *storage.Store) (protocol.Whoami, error) {
		return ccmsync.Connect(ctx, st, url, token, insecure)
	}, func(w protocol.Whoami, err error) {
		v.connect.Enable()
		switch {
		case errors.Is(err, ccmsync.ErrInsecureURL):
			v.who.SetText("This address uses plain http:// to another computer: tokens and records would travel unencrypted. Use https://, or tick the box if this is a trusted local network.")
		case errors.Is(err, ccmsync.ErrAuth):
			v.who.SetText("The hub refused this token: it is wrong or was revoked. Ask your hub administrator for a new one.")
		case err != nil:
			v.who.SetText("Not saved: " + err.Error())
		default:
			v.token.SetText("")
			v.who.SetText(fmt.Sprintf("Connected as %q (%s) for programme %s.", w.Name, w.Role, w.Programme))
			s := v.u.syncStatus()
			s.Configured = true // the engine notices at its next probe
			v.u.updateSyncIndicator(s)
		}
	})
}

// apply shows an engine status (UI goroutine).
func (v *syncView) apply(s ccmsync.Status) {
	v.state.SetText(syncSummary(s, v.u.now()) + lastError(s))
	if s.Syncing {
		v.bar.Show()
		if s.Total > 0 {
			v.bar.Max = float64(s.Total)
			v.bar.SetValue(float64(s.Done))
		}
	}
}

func lastError(s ccmsync.Status) string {
	if s.LastError == "" {
		return ""
	}
	return "\nLast problem: " + s.LastError
}

// syncNow runs one sync off the UI goroutine, forwarding the engine's
// progress to the bar, and reloads what it changed.
func (u *UI) syncNow() {
	eng := u.engine
	if eng == nil {
		return
	}
	u.touch()
	if u.syncv != nil {
		u.syncv.now.Disable()
		u.syncv.bar.Show()
		u.syncv.bar.SetValue(0)
		u.syncv.result.SetText("Syncing…")
	}
	u.setStatus("Syncing…")
	gen, inUse := u.lockGen, u.inUse
	inUse.Add(1)
	u.goBG(func(ctx context.Context) {
		defer inUse.Done()
		ch, unsub := eng.Subscribe()
		done := make(chan struct{})
		fwd := make(chan struct{})
		go func() {
			defer close(fwd)
			for {
				select {
				case <-done:
					return
				case s := <-ch:
					u.do(func() {
						if gen == u.lockGen && u.syncv != nil {
							u.syncv.apply(s)
						}
						if gen == u.lockGen {
							u.updateSyncIndicator(s)
						}
					})
				}
			}
		}()
		res, err := eng.SyncNow(ctx)
		close(done)
		<-fwd
		unsub()
		st := eng.Status()
		u.do(func() {
			if gen != u.lockGen {
				return
			}
			u.updateSyncIndicator(st)
			msg := fmt.Sprintf("Sync done: %d sent, %d received, %d rejected, %d conflict(s).", res.Pushed+res.Duplicates, res.Pulled, res.Rejected, res.Conflicts)
			switch {
			case errors.Is(err, ccmsync.ErrNotConfigured):
				msg = "Set the hub address and device token first."
			case errors.Is(err, ccmsync.ErrAuth):
				msg = "The hub refused this device's token: ask your administrator for a new one."
			case err != nil:
				msg = "Sync did not finish: " + err.Error() + ". Nothing is lost; it continues next time."
			}
			u.setStatus(msg)
			if u.syncv != nil {
				u.syncv.now.Enable()
				u.syncv.bar.Hide()
				u.syncv.apply(st)
				u.syncv.result.SetText(msg)
				u.syncv.loadRejected()
			}
			u.refreshAll()
		})
	})
}

// loadRejected lists the records the hub rejected, with its reason and a
// button to correct and resend each.
func (v *syncView) loadRejected() {
	load(v.u, func(ctx context.Context, st *storage.Store) ([]storage.OutboxEntry, error) {
		return st.Rejected(ctx)
	}, func(es []storage.OutboxEntry, err error) {
		if err != nil {
			v.u.showError("Rejected records", err)
			return
		}
		v.rejected.Objects = nil
		if len(es) == 0 {
			v.rejected.Add(widget.NewLabel("None."))
		}
		for _, e := range es {
			title := e.Rev.FormID
			if f, err := v.u.reg.Get(e.Rev.FormID, e.Rev.FormVersion); err == nil {
				title = f.Title
			}
			id := e.Rev.RecordID
			reason := widget.NewLabel(fmt.Sprintf("%s saved %s: %s", title, e.Rev.SavedAt.Local().Format("2006-01-02 15:04"), e.Rejection))
			reason.Wrapping = fyne.TextWrapWord
			fix := widget.NewButton("Correct and resend", func() { v.u.openRecord(id) })
			v.rejected.Add(container.NewBorder(nil, nil, nil, fix, reason))
		}
		v.rejected.Refresh()
	})
}
