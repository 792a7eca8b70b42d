package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/ccmcollect/ccmcollect/demo"
	"github.com/ccmcollect/ccmcollect/storage"
	ccmsync "github.com/ccmcollect/ccmcollect/sync"
)

// MinPassphrase is the shortest passphrase the app accepts for a new store.
const MinPassphrase = 8

// Strength grades a new passphrase from its length and character classes
// (lower case, upper case, digits, others). It is a hint, not a promise:
// 0 too short, 1 weak, 2 fair, 3 strong.
func Strength(p string) (score int, hint string) {
	n := len([]rune(p))
	if n < MinPassphrase {
		return 0, fmt.Sprintf("Too short: at least %d characters", MinPassphrase)
	}
	var lower, upper, digit, other bool
	for _, r := range p {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			other = true
		}
	}
	classes := 0
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			classes++
		}
	}
	switch {
	case n >= 16 || (n >= 12 && classes >= 3):
		return 3, "Strong"
	case n >= 10 || classes >= 3:
		return 2, "Fair: a longer phrase of several words is stronger"
	default:
		return 1, "Weak: use a longer phrase, or mix words, digits and symbols"
	}
}

// unlockForm is the unlock or create-passphrase screen; tests drive it
// through its fields.
type unlockForm struct {
	pass, confirm *widget.Entry
	hint, errMsg  *widget.Label
	button        *widget.Button
	progress      *widget.ProgressBarInfinite
	create        bool
}

// showUnlock shows the passphrase screen: "create" on first run (no store
// in the data directory), "unlock" afterwards.
func (u *UI) showUnlock() {
	u.body, u.statusBar = nil, nil
	f := &unlockForm{create: !storage.Exists(u.dataDir)}
	f.pass = widget.NewPasswordEntry()
	f.pass.SetPlaceHolder("Passphrase")
	f.hint = widget.NewLabel("")
	f.errMsg = widget.NewLabel("")
	f.errMsg.Importance = widget.DangerImportance
	f.errMsg.Wrapping = fyne.TextWrapWord
	f.progress = widget.NewProgressBarInfinite()
	f.progress.Hide()
	f.progress.Stop()

	title := "Unlock CCM Collect"
	intro := "Enter the passphrase of this laptop's encrypted store."
	objs := []fyne.CanvasObject{}
	if f.create {
		title = "Create a passphrase"
		intro = "Your records are encrypted with this passphrase. Nobody can recover it: write it down and keep it safe."
		f.confirm = widget.NewPasswordEntry()
		f.confirm.SetPlaceHolder("Type it again")
		f.hint.SetText(fmt.Sprintf("At least %d characters; a phrase of several words is easy to remember and hard to guess.", MinPassphrase))
		f.hint.Wrapping = fyne.TextWrapWord
		f.pass.OnChanged = func(s string) {
			_, h := Strength(s)
			f.hint.SetText(h)
		}
		f.confirm.OnSubmitted = func(string) { u.submitUnlock(f) }
		f.button = widget.NewButton("Create store", func() { u.submitUnlock(f) })
		objs = append(objs, f.pass, f.hint, f.confirm)
	} else {
		f.button = widget.NewButton("Unlock", func() { u.submitUnlock(f) })
		objs = append(objs, f.pass)
	}
	f.pass.OnSubmitted = func(string) {
		if f.create {
			u.win.Canvas().Focus(f.confirm)
			return
		}
		u.submitUnlock(f)
	}
	f.button.Importance = widget.HighImportance
	objs = append(objs, f.button, f.progress, f.errMsg)
	introL := widget.NewLabel(intro)
	introL.Wrapping = fyne.TextWrapWord
	head := widget.NewLabelWithStyle(title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	box := container.NewVBox(append([]fyne.CanvasObject{head, introL}, objs...)...)
	card := container.NewGridWrap(fyne.NewSize(460, 420), box)
	u.win.SetContent(container.NewCenter(card))
	u.win.Canvas().Focus(f.pass)
	u.unlockUI = f
}

// submitUnlock checks the entries and opens the store in a goroutine (key
// derivation takes a moment); the result is applied in one fyne.Do.
func (u *UI) submitUnlock(f *unlockForm) {
	u.touch()
	pass := f.pass.Text
	if f.create {
		if score, h := Strength(pass); score == 0 {
			f.errMsg.SetText(h)
			return
		}
		if f.confirm.Text != pass {
			f.errMsg.SetText("The two passphrases differ. Type the same passphrase twice.")
			return
		}
	} else if pass == "" {
		f.errMsg.SetText("Enter your passphrase.")
		return
	}
	f.errMsg.SetText("")
	f.button.Disable()
	f.progress.Show()
	f.progress.Start()
	gen, closed := u.lockGen, u.closed
	u.goBG(func(ctx context.Context) {
		if closed != nil {
			<-closed // the store closed on lock must release the directory first
		}
		st, err := storage.Open(ctx, storage.Options{Dir: u.dataDir, Passphrase: []byte(pass), Forms: u.reg, Now: u.now, Logger: u.log})
		if err == nil {
			if lerr := ccmsync.LoadStoredForms(ctx, st, st.Forms()); lerr != nil {
				u.log.Warn("loading the hub's custom forms", "err", lerr)
			}
		}
		u.do(func() {
			f.progress.Stop()
			f.progress.Hide()
			f.button.Enable()
			if gen != u.lockGen || u.ctx.Err() != nil {
				if st != nil {
					_ = st.Close()
				}
				return
			}
			switch {
			case errors.Is(err, storage.ErrWrongPassphrase):
				f.errMsg.SetText("Wrong passphrase. Nothing was changed; try again.")
				f.pass.SetText("")
				u.win.Canvas().Focus(f.pass)
			case err != nil:
				f.errMsg.SetText(fmt.Sprintf("Cannot open the store: %v", err))
			default:
				u.unlocked(st)
			}
		})
	})
}

// startDemo opens a throwaway store in a temporary directory with the demo
// passphrase and fills it with generated records in chunks, showing
// progress; the app is usable while it fills.
func (u *UI) startDemo() {
	dir, err := os.MkdirTemp("", "ccmcollect-demo-")
	if err != nil {
		u.win.SetContent(widget.NewLabel(fmt.Sprintf("Cannot create a demo directory: %v", err)))
		return
	}
	u.tempDir, u.dataDir = dir, dir
	st, err := storage.Open(u.ctx, storage.Options{Dir: dir, Passphrase: []byte(DemoPassphrase), Forms: u.reg, Now: u.now, Logger: u.log})
	if err != nil {
		u.win.SetContent(widget.NewLabel(fmt.Sprintf("Cannot open the demo store: %v", err)))
		return
	}
	if err := st.SetIdentity(u.ctx, storage.Identity{Programme: "LAO", DeviceName: "Demo laptop", User: "demo", Role: "collector"}); err != nil {
		u.log.Warn("demo identity", "err", err)
	}
	u.unlocked(st)
	u.fillDemo(st, u.opts.DemoRecords)
}

// fillDemo imports n generated records in chunks per form, off the UI
// goroutine, with a progress bar in the status area.
func (u *UI) fillDemo(st *storage.Store, n int) {
	bar := widget.NewProgressBar()
	label := widget.NewLabel("Loading demo data…")
	u.setProgress(container.NewBorder(nil, nil, label, nil, bar))
	now := u.now()
	u.goBG(func(ctx context.Context) {
		const chunk = 500
		pending := map[string][]map[string]any{}
		done := 0
		flush := func(formID string) error {
			rows := pending[formID]
			if len(rows) == 0 {
				return nil
			}
			if _, err := st.Import(ctx, formID, rows); err != nil {
				return fmt.Errorf("importing demo %s records: %w", formID, err)
			}
			done += len(rows)
			pending[formID] = nil
			frac := float64(done) / float64(n)
			u.do(func() { bar.SetValue(frac) })
			return nil
		}
		err := demo.Generate(20261127, n, now, func(formID string, data map[string]any) error {
			pending[formID] = append(pending[formID], data)
			if len(pending[formID]) >= chunk {
				return flush(formID)
			}
			return ctx.Err()
		})
		for id := range pending {
			if err == nil {
				err = flush(id)
			}
		}
		u.do(func() {
			u.setProgress(nil)
			if err != nil {
				if ctx.Err() == nil {
					u.showError("Demo data", err)
				}
				return
			}
			u.setStatus(fmt.Sprintf("Demo store ready: %d generated records. Passphrase %q. Everything is removed when you close the app.", done, DemoPassphrase))
			u.refreshAll()
		})
	})
}
