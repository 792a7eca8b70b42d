package app

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/ccmcollect/ccmcollect/storage"
)

// Keys of the app's own settings in the store (encrypted with the rest).
const (
	// SettingLockAfter is the idle-lock time in whole minutes, "0" = never.
	SettingLockAfter = "app.lock_after"
	// SettingTheme is "system", "light" or "dark".
	SettingTheme = "app.theme"
)

// maxLockMinutes bounds the idle-lock time a user may set: a day.
const maxLockMinutes = 24 * 60

// themeChoices are the theme settings in the order the Settings screen
// shows them, with their labels.
var themeChoices = []struct{ key, label string }{
	{"system", "System"}, {"light", "Light"}, {"dark", "Dark"},
}

// appSettings are the app's settings as read from the store.
type appSettings struct {
	lockAfter time.Duration // 0 when not stored
	hasLock   bool
	theme     string
}

// parseLockMinutes reads an idle-lock time typed in the Settings screen.
func parseLockMinutes(s string) (time.Duration, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, errors.New("type a whole number of minutes (0 = never lock)")
	}
	if n < 0 || n > maxLockMinutes {
		return 0, fmt.Errorf("must be between 0 (never) and %d minutes", maxLockMinutes)
	}
	return time.Duration(n) * time.Minute, nil
}

// loadSettings reads the stored settings off the UI goroutine and applies
// them: the idle-lock time (unless Options.LockAfterFixed) and the theme.
func (u *UI) loadSettings() {
	load(u, func(ctx context.Context, st *storage.Store) (appSettings, error) {
		var s appSettings
		b, err := st.Setting(ctx, SettingLockAfter)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return s, err
		default:
			if s.lockAfter, err = parseLockMinutes(string(b)); err == nil {
				s.hasLock = true
			}
		}
		b, err = st.Setting(ctx, SettingTheme)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return s, err
		}
		s.theme = string(b)
		return s, nil
	}, func(s appSettings, err error) {
		if err != nil {
			u.showError("Reading settings", err)
			return
		}
		if s.hasLock && !u.opts.LockAfterFixed {
			u.idleLock = lockDuration(s.lockAfter)
		}
		u.applyTheme(s.theme)
		if u.settingsv != nil {
			u.settingsv.show()
		}
	})
}

// lockDuration turns a stored time into the idle-lock rule: 0 never locks.
func lockDuration(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// applyTheme sets the app's theme: "light" and "dark" force that variant,
// anything else follows the system.
func (u *UI) applyTheme(name string) {
	u.themeName = name
	switch name {
	case "light":
		u.app.Settings().SetTheme(variantTheme{theme.DefaultTheme(), theme.VariantLight})
	case "dark":
		u.app.Settings().SetTheme(variantTheme{theme.DefaultTheme(), theme.VariantDark})
	default:
		u.themeName = "system"
		u.app.Settings().SetTheme(theme.DefaultTheme())
	}
}

// variantTheme is a theme whose colours are always those of one variant,
// whatever the system prefers.
type variantTheme struct {
	fyne.Theme
	variant fyne.ThemeVariant
}

// Color returns the colour n of the forced variant.
func (t variantTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.variant)
}

// settingsView edits the idle-lock time and the theme.
type settingsView struct {
	u       *UI
	lock    *widget.Entry
	apply   *widget.Button
	lockMsg *widget.Label
	theme   *widget.RadioGroup
	setting bool // values are being shown: no saving
}

func (u *UI) newSettingsView() fyne.CanvasObject {
	v := &settingsView{u: u, lock: widget.NewEntry(), lockMsg: widget.NewLabel("")}
	u.settingsv = v
	v.lockMsg.Wrapping = fyne.TextWrapWord
	v.lock.SetPlaceHolder("minutes")
	v.apply = widget.NewButton("Apply", func() { v.saveLock() })
	v.lock.OnSubmitted = func(string) { v.saveLock() }
	labels := make([]string, len(themeChoices))
	for i, c := range themeChoices {
		labels[i] = c.label
	}
	v.theme = widget.NewRadioGroup(labels, func(string) { v.saveTheme() })
	v.theme.Horizontal = true
	v.theme.Required = true
	v.show()
	if u.opts.LockAfterFixed || u.opts.Demo {
		v.lock.Disable()
		v.apply.Disable()
	}
	bold := fyne.TextStyle{Bold: true}
	lockRow := container.NewBorder(nil, nil, nil, container.NewHBox(widget.NewLabel("minutes"), v.apply), v.lock)
	top := container.NewVBox(
		widget.NewLabelWithStyle("Lock after", fyne.TextAlignLeading, bold),
		widget.NewLabel("The app locks (the passphrase is needed again) after this many minutes without input. 0 never locks."),
		container.NewGridWithColumns(2, lockRow), v.lockMsg,
		widget.NewSeparator(),
		widget.NewLabelWithStyle("Theme", fyne.TextAlignLeading, bold),
		v.theme,
	)
	return titled("Settings", container.NewVScroll(top))
}

// show puts the settings in effect into the widgets.
func (v *settingsView) show() {
	v.setting = true
	defer func() { v.setting = false }()
	switch {
	case v.u.opts.Demo:
		v.lock.SetText("")
		v.lockMsg.SetText("The demo never locks.")
	case v.u.idleLock < 0:
		v.lock.SetText("0")
	default:
		v.lock.SetText(strconv.Itoa(int(v.u.idleLock / time.Minute)))
	}
	if v.u.opts.LockAfterFixed {
		v.lockMsg.SetText("Set by --lock-after on the command line, which overrides this setting.")
	}
	for _, c := range themeChoices {
		if c.key == v.u.themeName || (c.key == "system" && v.u.themeName == "") {
			v.theme.SetSelected(c.label)
		}
	}
}

// saveLock validates, stores and applies the idle-lock time. A bad value
// is explained and changes nothing.
func (v *settingsView) saveLock() {
	v.u.touch()
	if v.u.store == nil || v.u.opts.LockAfterFixed || v.u.opts.Demo {
		return
	}
	d, err := parseLockMinutes(v.lock.Text)
	if err != nil {
		v.lockMsg.Importance = widget.DangerImportance
		v.lockMsg.SetText(err.Error())
		return
	}
	n := int(d / time.Minute)
	if err := v.u.store.SetSetting(v.u.ctx, SettingLockAfter, []byte(strconv.Itoa(n))); err != nil {
		v.u.showError("Saving settings", err)
		return
	}
	v.u.idleLock = lockDuration(d)
	v.lockMsg.Importance = widget.MediumImportance
	if n == 0 {
		v.lockMsg.SetText("Saved: the app never locks by itself.")
	} else {
		v.lockMsg.SetText(fmt.Sprintf("Saved: the app locks after %d minutes without input.", n))
	}
}

// saveTheme stores and applies the chosen theme.
func (v *settingsView) saveTheme() {
	if v.setting || v.u.store == nil {
		return
	}
	v.u.touch()
	key := "system"
	for _, c := range themeChoices {
		if c.label == v.theme.Selected {
			key = c.key
		}
	}
	if err := v.u.store.SetSetting(v.u.ctx, SettingTheme, []byte(key)); err != nil {
		v.u.showError("Saving settings", err)
		return
	}
	v.u.applyTheme(key)
}
