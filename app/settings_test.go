package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
)

// settingsScreen opens the Settings screen.
func settingsScreen(t *testing.T, u *UI) *settingsView {
	t.Helper()
	test.Tap(findButton(t, u.win.Canvas().Content(), "Settings"))
	settle(t, u)
	if u.settingsv == nil {
		t.Fatal("Settings screen not shown")
	}
	return u.settingsv
}

// unlockAgain unlocks the existing store through the passphrase screen.
func unlockAgain(t *testing.T, u *UI) {
	t.Helper()
	f := u.unlockUI
	if f == nil || f.create {
		t.Fatal("expected the unlock screen")
	}
	test.Type(f.pass, testPass)
	test.Tap(f.button)
	settle(t, u)
	if u.store == nil {
		t.Fatalf("unlock failed: %q", f.errMsg.Text)
	}
}

// locksAfter reports whether the app, left idle, locks after exactly d (and
// not a minute earlier), moving the fake clock.
func locksAfter(t *testing.T, u *UI, clock *fakeClock, d time.Duration) {
	t.Helper()
	u.touch()
	clock.Add(d - time.Minute)
	u.checkIdle()
	if u.store == nil {
		t.Fatalf("locked before %v", d)
	}
	clock.Add(time.Minute)
	u.checkIdle()
	if u.store != nil {
		t.Fatalf("not locked after %v", d)
	}
}

func TestSettingsLockAfter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	u, clock := newTestUI(t, Options{DataDir: dir, IdleLock: 10 * time.Minute})
	unlockNew(t, u)
	v := settingsScreen(t, u)
	if v.lock.Text != "10" {
		t.Fatalf("lock field shows %q, want the default 10", v.lock.Text)
	}

	for _, bad := range []string{"", "abc", "2.5", "-1", "1441"} {
		v.lock.SetText(bad)
		test.Tap(v.apply)
		if v.lockMsg.Text == "" || strings.HasPrefix(v.lockMsg.Text, "Saved") {
			t.Errorf("%q: message %q", bad, v.lockMsg.Text)
		}
		if _, err := u.store.Setting(context.Background(), SettingLockAfter); err == nil {
			t.Errorf("%q was stored", bad)
		}
		if u.idleLock != 10*time.Minute {
			t.Errorf("%q changed the lock time to %v", bad, u.idleLock)
		}
	}

	v.lock.SetText("3")
	v.lock.OnSubmitted(v.lock.Text) // Enter applies
	if !strings.Contains(v.lockMsg.Text, "3 minutes") {
		t.Fatalf("message %q", v.lockMsg.Text)
	}
	if b, err := u.store.Setting(context.Background(), SettingLockAfter); err != nil || string(b) != "3" {
		t.Fatalf("stored %q, %v", b, err)
	}
	locksAfter(t, u, clock, 3*time.Minute) // applied at once

	// Unlocking again reads the stored time.
	unlockAgain(t, u)
	locksAfter(t, u, clock, 3*time.Minute)

	// 0 never locks.
	unlockAgain(t, u)
	v = settingsScreen(t, u)
	if v.lock.Text != "3" {
		t.Fatalf("lock field shows %q, want the stored 3", v.lock.Text)
	}
	v.lock.SetText("0")
	test.Tap(v.apply)
	clock.Add(48 * time.Hour)
	u.checkIdle()
	if u.store == nil {
		t.Fatal("locked with lock time 0")
	}
	v.lock.SetText("3")
	test.Tap(v.apply)
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}

	// An explicit --lock-after overrides the stored time.
	u2, clock2 := newTestUI(t, Options{DataDir: dir, IdleLock: 20 * time.Minute, LockAfterFixed: true})
	unlockAgain(t, u2)
	v = settingsScreen(t, u2)
	if v.lock.Text != "20" || !v.lock.Disabled() || !strings.Contains(v.lockMsg.Text, "--lock-after") {
		t.Fatalf("fixed lock time shown as %q (disabled %v, %q)", v.lock.Text, v.lock.Disabled(), v.lockMsg.Text)
	}
	locksAfter(t, u2, clock2, 20*time.Minute)
}

func TestSettingsTheme(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	u, _ := newTestUI(t, Options{DataDir: dir})
	unlockNew(t, u)
	v := settingsScreen(t, u)
	if v.theme.Selected != "System" {
		t.Fatalf("theme %q, want System", v.theme.Selected)
	}
	bg := func() any {
		// Asked for the light variant: a forced theme answers with its own.
		return u.app.Settings().Theme().Color(theme.ColorNameBackground, theme.VariantLight)
	}
	dark := theme.DefaultTheme().Color(theme.ColorNameBackground, theme.VariantDark)
	light := theme.DefaultTheme().Color(theme.ColorNameBackground, theme.VariantLight)

	v.theme.SetSelected("Dark")
	if bg() != dark {
		t.Fatalf("background %v after choosing Dark, want %v", bg(), dark)
	}
	if b, err := u.store.Setting(context.Background(), SettingTheme); err != nil || string(b) != "dark" {
		t.Fatalf("stored %q, %v", b, err)
	}
	v.theme.SetSelected("Light")
	if dl := u.app.Settings().Theme().Color(theme.ColorNameBackground, theme.VariantDark); dl != light {
		t.Fatalf("background %v after choosing Light, want %v", dl, light)
	}
	v.theme.SetSelected("Dark")

	// A restarted app applies the stored theme once unlocked.
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	u2, _ := newTestUI(t, Options{DataDir: dir})
	if got := u2.app.Settings().Theme().Color(theme.ColorNameBackground, theme.VariantLight); got == dark {
		t.Fatal("new test app already dark")
	}
	unlockAgain(t, u2)
	u = u2
	if bg() != dark {
		t.Fatalf("stored Dark not applied on unlock: %v", bg())
	}
	if v := settingsScreen(t, u2); v.theme.Selected != "Dark" {
		t.Fatalf("Settings shows %q, want Dark", v.theme.Selected)
	}
	v = u2.settingsv
	v.theme.SetSelected("System")
	if bg() != light {
		t.Fatalf("System with a light system: %v", bg())
	}
}
