package app

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

func TestDemoMode(t *testing.T) {
	u, _ := newTestUI(t, Options{Demo: true, DemoRecords: 120})
	settle(t, u)
	if u.store == nil {
		t.Fatal("demo store not open")
	}
	dir := u.tempDir
	if dir == "" {
		t.Fatal("demo store not in a temporary directory")
	}
	if !strings.Contains(u.statusBar.Text, "120 generated records") {
		t.Errorf("status = %q", u.statusBar.Text)
	}
	total := 0
	for _, m := range u.dash.counts {
		for _, n := range m {
			total += n
		}
	}
	if total != 120 {
		t.Errorf("dashboard counts %d records, want 120", total)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("demo directory left behind: %v", err)
	}
}

// TestScreenshots renders the main screens with the demo data into
// $CCM_SCREENSHOTS (e.g. docs/screenshots); it does nothing otherwise.
func TestScreenshots(t *testing.T) {
	out := os.Getenv("CCM_SCREENSHOTS")
	if out == "" {
		t.Skip("set CCM_SCREENSHOTS=DIR to render screenshots")
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join("..", out)
	}
	u, _ := newTestUI(t, Options{Demo: true, DemoRecords: 3000})
	u.win.Resize(fyne.NewSize(1366, 768))
	settle(t, u)
	shot := func(name string) {
		t.Helper()
		settle(t, u)
		img := u.win.Canvas().Capture()
		f, err := os.Create(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
	}
	// Connect to a real hub and sync, so the screens show a working setup;
	// then a conflict and a few local records waiting.
	url, token := startHub(t)
	u.show(4)
	settle(t, u)
	u.syncv.url.SetText(url)
	u.syncv.token.SetText(token)
	test.Tap(u.syncv.connect)
	settle(t, u)
	u.syncNow()
	settle(t, u)
	makeConflict(t, u.store)
	importDemo(t, u.store, 40)
	u.show(4)
	shot("sync.png")
	u.show(0)
	shot("dashboard.png")
	u.show(1)
	shot("records.png")
	u.openNew("casualty")
	test.Type(entry(t, u, "incident_date"), "2024-03-12")
	test.Type(entry(t, u, "adm1"), "Xiengkhouang")
	test.Type(entry(t, u, "village"), "Ban Nong")
	choose(t, u, "outcome", "Injured (survivor)")
	choose(t, u, "cm_context", "By a remnant after the attack")
	test.Type(entry(t, u, "age"), "130")
	u.form.scrollTo(field(t, u, "cm_context"))
	shot("form.png")
	u.openNew("hazard_area")
	g := saddCells(t, u.form.byID["beneficiaries"])
	for i, row := range g.cells {
		for j, c := range row {
			test.Type(c, []string{"12", "30", "4", ""}[(i+j)%4])
		}
	}
	u.form.scrollTo(field(t, u, "blocked_land_use"))
	shot("form-sadd.png")
	u.show(3)
	settle(t, u)
	u.confl.list.Select(0)
	shot("conflict.png")
	u.show(5)
	shot("reports.png")
}
