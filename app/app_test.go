package app

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/ccmcollect/ccmcollect/demo"
	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/storage"
)

// fakeClock is an adjustable clock for the idle lock and date rules.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const testPass = "correct horse battery"

// newTestUI opens a UI over a fresh data directory in a headless test app.
func newTestUI(t *testing.T, o Options) (*UI, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	if o.DataDir == "" {
		o.DataDir = filepath.Join(t.TempDir(), "data")
	}
	o.Now = clock.Now
	o.queueDo = true
	if o.ReportsDir == "" {
		o.ReportsDir = t.TempDir()
	}
	a := test.NewTempApp(t)
	u := New(a, o)
	t.Cleanup(func() {
		if err := u.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return u, clock
}

// settle waits until every background task has applied its result.
func settle(t *testing.T, u *UI) {
	t.Helper()
	u.runQueued()
}

// unlockNew creates the store through the passphrase screen.
func unlockNew(t *testing.T, u *UI) {
	t.Helper()
	f := u.unlockUI
	if f == nil || !f.create {
		t.Fatal("expected the create-passphrase screen")
	}
	test.Type(f.pass, testPass)
	test.Type(f.confirm, testPass)
	test.Tap(f.button)
	settle(t, u)
	if u.store == nil {
		t.Fatalf("store not opened: %q", f.errMsg.Text)
	}
}

func TestStrength(t *testing.T) {
	tests := []struct {
		pass  string
		score int
	}{
		{"", 0},
		{"short1!", 0},
		{"abcdefgh", 1},
		{"abcdefghij", 2},
		{"Abcdef12", 2},
		{"Abcdef12!xyz", 3},
		{"a long passphrase of words", 3},
	}
	for _, tc := range tests {
		t.Run(tc.pass, func(t *testing.T) {
			if got, hint := Strength(tc.pass); got != tc.score || hint == "" {
				t.Errorf("Strength(%q) = %d %q, want %d", tc.pass, got, hint, tc.score)
			}
		})
	}
}

func TestUnlock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	u, _ := newTestUI(t, Options{DataDir: dir})
	f := u.unlockUI

	t.Run("too short", func(t *testing.T) {
		test.Type(f.pass, "short")
		test.Type(f.confirm, "short")
		test.Tap(f.button)
		settle(t, u)
		if u.store != nil || !strings.Contains(f.errMsg.Text, "at least 8") {
			t.Fatalf("short passphrase accepted or unexplained: %q", f.errMsg.Text)
		}
		if storage.Exists(dir) {
			t.Fatal("a refused passphrase created a store")
		}
	})
	t.Run("confirmation differs", func(t *testing.T) {
		f.pass.SetText(testPass)
		f.confirm.SetText(testPass + "x")
		test.Tap(f.button)
		settle(t, u)
		if u.store != nil || !strings.Contains(f.errMsg.Text, "differ") {
			t.Fatalf("mismatch accepted or unexplained: %q", f.errMsg.Text)
		}
	})
	t.Run("create", func(t *testing.T) {
		f.pass.SetText("")
		f.confirm.SetText("")
		unlockNew(t, u)
		if !storage.Exists(dir) {
			t.Fatal("no store on disk after create")
		}
	})
	t.Run("wrong passphrase", func(t *testing.T) {
		u.lock()
		f := u.unlockUI
		if f == nil || f.create {
			t.Fatal("expected the unlock screen after lock")
		}
		test.Type(f.pass, "not the passphrase")
		test.Tap(f.button)
		settle(t, u)
		if u.store != nil || !strings.Contains(f.errMsg.Text, "Wrong passphrase") {
			t.Fatalf("wrong passphrase: store %v, message %q", u.store != nil, f.errMsg.Text)
		}
		test.Type(f.pass, testPass)
		f.pass.OnSubmitted(f.pass.Text) // Enter unlocks
		settle(t, u)
		if u.store == nil {
			t.Fatalf("right passphrase refused: %q", f.errMsg.Text)
		}
	})
}

func TestIdleLock(t *testing.T) {
	u, clock := newTestUI(t, Options{IdleLock: 10 * time.Minute})
	unlockNew(t, u)
	clock.Add(9 * time.Minute)
	u.checkIdle()
	if u.store == nil {
		t.Fatal("locked before the idle time")
	}
	u.touch() // input resets the timer
	clock.Add(9 * time.Minute)
	u.checkIdle()
	if u.store == nil {
		t.Fatal("input did not reset the idle timer")
	}
	clock.Add(2 * time.Minute)
	u.checkIdle()
	if u.store != nil || u.unlockUI == nil {
		t.Fatal("not locked after 11 idle minutes")
	}
}

// field returns the widget row of a field of the open form.
func field(t *testing.T, u *UI, id string) *fieldUI {
	t.Helper()
	if u.form == nil {
		t.Fatal("no form open")
	}
	fu, ok := u.form.byID[id]
	if !ok {
		t.Fatalf("form %s has no field %s", u.form.form.ID, id)
	}
	return fu
}

func entry(t *testing.T, u *UI, id string) *widget.Entry {
	t.Helper()
	e, ok := field(t, u, id).focus.(*widget.Entry)
	if !ok {
		t.Fatalf("field %s is not an entry", id)
	}
	return e
}

func choose(t *testing.T, u *UI, id, label string) {
	t.Helper()
	s, ok := field(t, u, id).focus.(*widget.Select)
	if !ok {
		t.Fatalf("field %s is not a select", id)
	}
	s.SetSelected(label)
}

func TestCasualtyEntry(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	u.openNew("casualty")
	fv := u.form

	// An invalid value gets its message next to the field as it is typed.
	date := entry(t, u, "incident_date")
	test.Type(date, "2024-13-45")
	if m := field(t, u, "incident_date").msg; !m.Visible() || !strings.Contains(m.Text, "YYYY-MM-DD") {
		t.Fatalf("bad date message = %q", m.Text)
	}
	date.SetText("2030-01-01")
	if m := field(t, u, "incident_date").msg; !m.Visible() {
		t.Fatalf("a future date has no message")
	}
	date.SetText("2024-03-12")
	if m := field(t, u, "incident_date").msg; m.Visible() {
		t.Fatalf("valid date still has message %q", m.Text)
	}
	age := entry(t, u, "age")
	test.Type(age, "200")
	if m := field(t, u, "age").msg; !m.Visible() {
		t.Fatal("age 200 has no message")
	}
	if got := field(t, u, "age_group").calc.Text; got != "Unknown" {
		t.Errorf("age group of an invalid age = %q", got)
	}
	age.SetText("12")
	if m := field(t, u, "age").msg; m.Visible() {
		t.Fatalf("age 12 still has message %q", m.Text)
	}
	// Calculated fields update live.
	if got := field(t, u, "age_group").calc.Text; got != "Child (under 18)" {
		t.Errorf("age group = %q", got)
	}
	// Skip logic: assistance needs only for survivors.
	choose(t, u, "outcome", "Killed")
	if field(t, u, "va_needs").row.Visible() || field(t, u, "disability").row.Visible() {
		t.Error("survivor fields visible for a person killed")
	}
	choose(t, u, "outcome", "Injured (survivor)")
	if !field(t, u, "va_needs").row.Visible() {
		t.Error("assistance needed hidden for a survivor")
	}
	if field(t, u, "name").row.Visible() {
		t.Error("name visible without consent")
	}
	choose(t, u, "consent", "Yes")
	test.Type(entry(t, u, "name"), "Somphone Vongsa")
	test.Type(entry(t, u, "adm1"), "Xiengkhouang")

	// A draft can be saved at any time, even incomplete.
	test.Tap(findButton(t, u.win.Canvas().Content(), "Save draft"))
	if fv.id == "" {
		t.Fatal("draft not saved")
	}
	r, err := u.store.Get(context.Background(), fv.id)
	if err != nil || r.Status != storage.StatusDraft || r.Draft["adm1"] != "Xiengkhouang" {
		t.Fatalf("stored draft = %+v, %v", r, err)
	}

	// Finalise refuses while sex is missing: it lists and focuses it.
	if fv.finalise() {
		t.Fatal("finalised without sex")
	}
	if !strings.Contains(fv.top.Text, "Sex") {
		t.Errorf("failing fields not listed: %q", fv.top.Text)
	}
	if u.win.Canvas().Focused() != field(t, u, "sex").focus {
		t.Error("first failing field not focused")
	}
	choose(t, u, "sex", "Female")
	id := fv.id
	if !fv.finalise() {
		t.Fatalf("valid casualty not finalised: %q", fv.top.Text)
	}
	settle(t, u)
	r, err = u.store.Get(context.Background(), id)
	if err != nil || r.Status != storage.StatusPending || r.Current == nil || r.Current.Data["sex"] != "female" {
		t.Fatalf("finalised record = %+v, %v", r, err)
	}
	if _, ok := r.Current.Data["age_group"]; ok {
		t.Error("calculated field stored")
	}

	// It is in the list, without personal data in the row.
	v := u.records
	if v == nil {
		t.Fatal("finalising did not show the records list")
	}
	found := false
	for i, s := range v.items {
		if s.ID == id {
			found = true
			line := summaryLine(u, v.items[i])
			if strings.Contains(line, "Somphone") {
				t.Errorf("list row shows a personal field: %q", line)
			}
		}
	}
	if !found {
		t.Fatalf("record %s not in the list (%d items)", id, len(v.items))
	}
	// Search finds it by province.
	v.search.SetText("Xiengkhouang")
	settle(t, u)
	if len(v.items) != 1 || v.items[0].ID != id {
		t.Fatalf("search found %d items", len(v.items))
	}
}

func findButton(t *testing.T, o fyne.CanvasObject, text string) *widget.Button {
	t.Helper()
	var found *widget.Button
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if found != nil || o == nil {
			return
		}
		switch x := o.(type) {
		case *widget.Button:
			if x.Text == text {
				found = x
			}
		case *fyne.Container:
			for _, c := range x.Objects {
				walk(c)
			}
		case *container.Scroll:
			walk(x.Content)
		}
	}
	walk(o)
	if found == nil {
		t.Fatalf("no button %q", text)
	}
	return found
}

func TestSADDGrid(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	u.openNew("hazard_area")
	fu := field(t, u, "beneficiaries")
	cells := saddCells(t, fu)
	// female 0-17 = 3, female 18-59 = 5, male 18-59 = 2
	test.Type(cells.cells[0][0], "3")
	test.Type(cells.cells[0][1], "5")
	test.Type(cells.cells[1][1], "2")
	if got := cells.rowTot[0].Text; got != "8" {
		t.Errorf("female total = %s, want 8", got)
	}
	if got := cells.colTot[1].Text; got != "7" {
		t.Errorf("18-59 total = %s, want 7", got)
	}
	if got := cells.total.Text; got != "10" {
		t.Errorf("grand total = %s, want 10", got)
	}
	v, p := fu.get()
	want := map[string]any{"female": map[string]any{"0-17": 3.0, "18-59": 5.0}, "male": map[string]any{"18-59": 2.0}}
	if p != "" || !sameValue(v, want) {
		t.Errorf("value = %v (%q), want %v", v, p, want)
	}
	test.Type(cells.cells[2][0], "x")
	if _, p := fu.get(); p == "" || !fu.msg.Visible() {
		t.Error("a non-number count has no message")
	}
}

// saddCells finds the widgets of a sadd field's grid in its row.
func saddCells(t *testing.T, fu *fieldUI) *saddGrid {
	t.Helper()
	for _, o := range fu.row.Objects {
		if c, ok := o.(*fyne.Container); ok {
			for _, e := range c.Objects {
				if en, ok := e.(*widget.Entry); ok && en == fu.focus {
					return gridOf(t, c, fu)
				}
			}
		}
	}
	t.Fatal("no sadd grid")
	return nil
}

func gridOf(t *testing.T, c *fyne.Container, fu *fieldUI) *saddGrid {
	t.Helper()
	g := &saddGrid{sexes: fu.fd.Sexes, bands: fu.fd.Bands}
	if len(g.sexes) == 0 {
		g.sexes = forms.DefaultSexes
	}
	if len(g.bands) == 0 {
		g.bands = forms.DefaultBands
	}
	cols := len(g.bands) + 2
	objs := c.Objects
	for i := range g.sexes {
		row := objs[(i+1)*cols : (i+2)*cols]
		var es []*widget.Entry
		for _, o := range row[1 : cols-1] {
			es = append(es, o.(*widget.Entry))
		}
		g.cells = append(g.cells, es)
		g.rowTot = append(g.rowTot, row[cols-1].(*widget.Label))
	}
	last := objs[(len(g.sexes)+1)*cols:]
	for _, o := range last[1 : cols-1] {
		g.colTot = append(g.colTot, o.(*widget.Label))
	}
	g.total = last[cols-1].(*widget.Label)
	return g
}

// makeConflict stores a record and gives it a second live leaf, as a pull
// of another device's concurrent edit would.
func makeConflict(t *testing.T, st *storage.Store) (id string, local, remote *record.Revision) {
	t.Helper()
	ctx := context.Background()
	base := map[string]any{"incident_date": "2024-03-12", "adm1": "Savannakhet", "outcome": "injured", "sex": "male", "age": 30.0}
	first, err := st.Create(ctx, "casualty", base)
	if err != nil {
		t.Fatal(err)
	}
	a := map[string]any{}
	b := map[string]any{}
	for k, v := range base {
		a[k], b[k] = v, v
	}
	a["age"] = 31.0
	b["adm2"] = "Sepon"
	b["age"] = 32.0
	local, err = st.Edit(ctx, first.RecordID, a)
	if err != nil {
		t.Fatal(err)
	}
	remote, err = record.Next(first.RecordID, []string{first.Rev}, "casualty", first.FormVersion, false, b,
		record.Meta{Programme: first.Programme, DeviceID: "other-device", SavedAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyRemote(ctx, []*record.Revision{remote}, "c1"); err != nil {
		t.Fatal(err)
	}
	r, err := st.Get(ctx, first.RecordID)
	if err != nil || !r.Conflicted {
		t.Fatalf("no conflict made: %+v %v", r, err)
	}
	return first.RecordID, local, remote
}

func TestResolveConflict(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	id, local, remote := makeConflict(t, u.store)

	u.show(3)
	settle(t, u)
	if len(u.confl.items) != 1 || u.confl.items[0].ID != id {
		t.Fatalf("conflict list = %+v", u.confl.items)
	}
	u.confl.list.Select(0)
	settle(t, u)
	m := u.merge
	if m == nil || len(m.versions) != 2 {
		t.Fatal("merge view not open")
	}
	// age and adm2 differ; the winner is preselected.
	if len(m.checks) != 2 || m.checks["age"] == nil || m.checks["adm2"] == nil {
		t.Fatalf("differing fields = %v", m.checks)
	}
	// Take adm2 from the remote version and age from the local one.
	ri := 0
	for i, v := range m.versions {
		if v.Rev == remote.Rev {
			ri = i
		}
	}
	// The test canvas is not laid out, so Check.Tapped would miss its
	// active area: toggle as a tap does.
	tick := func(c *widget.Check) { c.SetChecked(!c.Checked) }
	tick(m.checks["age"][0]) // unticking the chosen version keeps it chosen
	if m.choice["age"] != 0 || !m.checks["age"][0].Checked {
		t.Fatal("unticking left a field without a chosen version")
	}
	tick(m.checks["adm2"][ri])
	tick(m.checks["age"][1-ri])
	if m.checks["adm2"][1-ri].Checked {
		t.Fatal("two versions ticked for one field")
	}
	if !m.save() {
		t.Fatalf("merge not saved: %q", m.msg.Text)
	}
	settle(t, u)
	r, err := u.store.Get(context.Background(), id)
	if err != nil || r.Conflicted || len(r.Leaves) != 1 {
		t.Fatalf("after merge: %+v %v", r, err)
	}
	if len(r.Current.Parents) != 2 {
		t.Errorf("merge parents = %v", r.Current.Parents)
	}
	if r.Current.Data["adm2"] != "Sepon" || r.Current.Data["age"] != local.Data["age"] {
		t.Errorf("merged data = %v", r.Current.Data)
	}
	if len(u.confl.items) != 0 {
		t.Errorf("conflict list still has %d items", len(u.confl.items))
	}
}

// importDemo fills the store with n generated records.
func importDemo(t testing.TB, st *storage.Store, n int) {
	t.Helper()
	rows := map[string][]map[string]any{}
	err := demo.Generate(7, n, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), func(formID string, data map[string]any) error {
		rows[formID] = append(rows[formID], data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for formID, rs := range rows {
		if _, err := st.Import(context.Background(), formID, rs); err != nil {
			t.Fatalf("import %s: %v", formID, err)
		}
	}
}

func TestRecordsPaging(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	importDemo(t, u.store, 2*pageSize+50)
	u.show(1)
	settle(t, u)
	v := u.records
	if len(v.items) != pageSize || v.next == "" {
		t.Fatalf("first page: %d items, next %q", len(v.items), v.next)
	}
	seen := map[string]bool{}
	for v.next != "" {
		v.more()
		settle(t, u)
	}
	for _, s := range v.items {
		if seen[s.ID] {
			t.Fatalf("record %s listed twice", s.ID)
		}
		seen[s.ID] = true
	}
	if len(v.items) != 2*pageSize+50 {
		t.Fatalf("listed %d records, want %d", len(v.items), 2*pageSize+50)
	}
	// Dashboard counts add up to the same number.
	u.show(0)
	settle(t, u)
	total := 0
	for _, m := range u.dash.counts {
		for _, n := range m {
			total += n
		}
	}
	if total != 2*pageSize+50 {
		t.Errorf("dashboard counts %d records", total)
	}
}

func TestNeedsReportPDF(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftotext (poppler-utils) not installed; CI must provide it")
		}
		t.Skip("pdftotext (poppler-utils) not installed")
	}
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	importDemo(t, u.store, 300)
	u.show(5)
	v := u.reportv
	v.kind.SetSelected(kindNeeds)
	test.Tap(v.gen)
	settle(t, u)
	if v.outPath == "" {
		t.Fatalf("no report: %q", v.result.Text)
	}
	out, err := exec.Command("pdftotext", "-layout", v.outPath, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	if !strings.Contains(string(out), "Casualties") {
		t.Errorf("report text lacks the casualties section:\n%.500s", out)
	}

	t.Run("csv", func(t *testing.T) {
		v.kind.SetSelected(kindCSV)
		v.formSel.SetSelected("Casualty")
		test.Tap(v.gen)
		settle(t, u)
		b, err := os.ReadFile(v.outPath)
		if err != nil || !strings.HasSuffix(v.outPath, ".csv") || !strings.HasPrefix(string(b), "record_id,") {
			t.Fatalf("csv %s: %v %.80q", v.outPath, err, b)
		}
	})
	t.Run("case sheet", func(t *testing.T) {
		rev, err := u.store.Create(context.Background(), "casualty", map[string]any{"incident_date": "2023-06-02", "adm1": "Attapeu",
			"outcome": "injured", "sex": "male", "consent": "yes", "name": "Khamla Phommachanh"})
		if err != nil {
			t.Fatal(err)
		}
		u.openRecord(rev.RecordID)
		settle(t, u)
		test.Tap(findButton(t, u.win.Canvas().Content(), "Case sheet"))
		v := u.reportv
		test.Tap(v.gen)
		settle(t, u)
		if !strings.Contains(filepath.Base(v.outPath), "case-sheet") {
			t.Fatalf("no case sheet: %q", v.result.Text)
		}
		out, err := exec.Command("pdftotext", v.outPath, "-").Output()
		if err != nil || !strings.Contains(string(out), rev.RecordID) || !strings.Contains(string(out), "Attapeu") {
			t.Errorf("case sheet lacks the record (%v)", err)
		}
		if strings.Contains(string(out), "Khamla") {
			t.Error("case sheet prints a personal field without being asked")
		}
	})
	t.Run("bad filter", func(t *testing.T) {
		v.kind.SetSelected(kindNeeds)
		v.from.SetText("12/03/2024")
		prev := v.outPath
		test.Tap(v.gen)
		settle(t, u)
		if v.outPath != prev || !strings.Contains(v.result.Text, "YYYY-MM-DD") {
			t.Errorf("bad date not refused: %q", v.result.Text)
		}
	})
}
