package app

import (
	"context"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/ccmcollect/ccmcollect/storage"
)

func TestGeopointRanges(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	u.openNew("casualty")
	fu := field(t, u, "location")
	es := geoEntries(t, fu)
	tests := []struct {
		lat, lon, acc string
		problem       string
	}{
		{"19.45", "", "", "both latitude and longitude"},
		{"91", "103.2", "", "between -90 and 90"},
		{"19.45", "-181", "", "between -180 and 180"},
		{"north", "103.2", "", "decimal degrees"},
		{"19.45", "103.2", "-3", "accuracy"},
		{"19.45", "103.2", "8", ""},
		{"", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.lat+","+tc.lon+","+tc.acc, func(t *testing.T) {
			es[0].SetText(tc.lat)
			es[1].SetText(tc.lon)
			es[2].SetText(tc.acc)
			v, p := fu.get()
			if tc.problem == "" {
				if p != "" || fu.msg.Visible() {
					t.Fatalf("unexpected problem %q", p)
				}
				if tc.lat != "" && !sameValue(v, map[string]any{"lat": 19.45, "lon": 103.2, "accuracy_m": 8.0}) {
					t.Fatalf("value = %v", v)
				}
				return
			}
			if !strings.Contains(p, tc.problem) || !fu.msg.Visible() {
				t.Fatalf("problem %q (shown %v), want %q", p, fu.msg.Visible(), tc.problem)
			}
		})
	}
}

func geoEntries(t *testing.T, fu *fieldUI) []*widget.Entry {
	t.Helper()
	var out []*widget.Entry
	for _, o := range fu.row.Objects {
		c, ok := o.(*fyne.Container)
		if !ok {
			continue
		}
		for _, e := range c.Objects {
			if en, ok := e.(*widget.Entry); ok {
				out = append(out, en)
			}
		}
	}
	if len(out) != 3 {
		t.Fatalf("geopoint has %d entries", len(out))
	}
	return out
}

func TestDraftSaving(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	ctx := context.Background()

	t.Run("enter saves", func(t *testing.T) {
		u.openNew("stockpile_destruction")
		e := entry(t, u, "munition_type")
		test.Type(e, "RBK-250")
		e.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
		if u.form.id == "" {
			t.Fatal("Enter did not save a draft")
		}
		r, err := u.store.Get(ctx, u.form.id)
		if err != nil || r.Draft["munition_type"] != "RBK-250" {
			t.Fatalf("draft = %+v %v", r, err)
		}
	})
	t.Run("invalid answers stay on screen, not in the draft", func(t *testing.T) {
		u.openNew("stockpile_destruction")
		test.Type(entry(t, u, "munition_type"), "CBU-24")
		test.Type(entry(t, u, "munitions_destroyed"), "-4")
		if !u.form.saveDraft() {
			t.Fatal("draft not saved")
		}
		if !strings.Contains(u.statusBar.Text, "1 answer") {
			t.Errorf("status = %q", u.statusBar.Text)
		}
		r, _ := u.store.Get(ctx, u.form.id)
		if _, ok := r.Draft["munitions_destroyed"]; ok || r.Draft["munition_type"] != "CBU-24" {
			t.Errorf("draft = %v", r.Draft)
		}
	})
	t.Run("autosave when leaving and after many edits", func(t *testing.T) {
		u.openNew("stockpile_destruction")
		fv := u.form
		test.Type(entry(t, u, "site"), "Xieng") // 5 edits: no autosave yet
		if fv.id != "" {
			t.Fatal("saved before autosaveEvery edits")
		}
		u.show(0) // leaving the form saves it
		settle(t, u)
		if fv.id == "" {
			t.Fatal("leaving the form did not save a draft")
		}
		u.openNew("stockpile_destruction")
		fv = u.form
		test.Type(entry(t, u, "site"), strings.Repeat("x", autosaveEvery))
		if fv.id == "" {
			t.Fatal("no autosave after many edits")
		}
	})
	t.Run("lock keeps the draft", func(t *testing.T) {
		u.openNew("stockpile_destruction")
		fv := u.form
		test.Type(entry(t, u, "site"), "Ban")
		u.lock()
		test.Type(u.unlockUI.pass, testPass)
		test.Tap(u.unlockUI.button)
		settle(t, u)
		r, err := u.store.Get(ctx, fv.id)
		if err != nil || r.Draft["site"] != "Ban" {
			t.Fatalf("draft after lock = %+v %v", r, err)
		}
		// Reopening shows it again.
		u.openRecord(fv.id)
		settle(t, u)
		if got := entry(t, u, "site").Text; got != "Ban" {
			t.Errorf("reopened draft site = %q", got)
		}
	})
}

func TestRejectedFixAndResend(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	ctx := context.Background()
	rev, err := u.store.Create(ctx, "stockpile_destruction", map[string]any{"event_date": "2025-05-01", "munition_type": "RBK-250", "munitions_destroyed": 3.0})
	if err != nil {
		t.Fatal(err)
	}
	pend, err := u.store.PendingOutbox(ctx, 10, 1<<20)
	if err != nil || len(pend) != 1 {
		t.Fatalf("outbox = %v %v", pend, err)
	}
	// What the sync engine does with a "rejected" push result.
	if err := u.store.RejectOutbox(ctx, pend[0].Seq, "Munitions destroyed: a duplicate of event 2025-05-01"); err != nil {
		t.Fatal(err)
	}
	u.show(4)
	settle(t, u)
	fix := findButton(t, u.syncv.rejected, "Correct and resend")
	test.Tap(fix)
	settle(t, u)
	if u.form == nil || u.form.id != rev.RecordID || !strings.Contains(u.form.top.Text, "duplicate of event") {
		t.Fatalf("fix did not open the record with the hub's reason")
	}
	e := entry(t, u, "munitions_destroyed")
	e.SetText("4")
	if !u.form.finalise() {
		t.Fatalf("not finalised: %q", u.form.top.Text)
	}
	settle(t, u)
	r, err := u.store.Get(ctx, rev.RecordID)
	if err != nil || r.Status != storage.StatusPending || r.Current.Data["munitions_destroyed"] != 4.0 {
		t.Fatalf("after resend: %+v %v", r, err)
	}
}

func TestHistory(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	ctx := context.Background()
	rev, err := u.store.Create(ctx, "stockpile_destruction", map[string]any{"event_date": "2025-05-01", "munition_type": "RBK-250"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.store.Edit(ctx, rev.RecordID, map[string]any{"event_date": "2025-05-01", "munition_type": "RBK-250", "site": "Phonsavan"}); err != nil {
		t.Fatal(err)
	}
	revs, err := u.store.History(ctx, rev.RecordID)
	if err != nil {
		t.Fatal(err)
	}
	lines := u.historyLines(revs)
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "created") || !strings.HasSuffix(lines[1], "changed: Site") {
		t.Errorf("history = %q", lines)
	}
	u.showHistory(rev.RecordID)
	settle(t, u)
	if len(u.win.Canvas().Overlays().List()) != 1 {
		t.Error("history dialog not shown")
	}
}

func TestKeyboardOrder(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	u.openNew("casualty")
	c := u.win.Canvas()
	if c.Focused() != field(t, u, "incident_date").focus {
		t.Fatal("the form does not start in its first field")
	}
	test.FocusNext(c) // the date's calendar button
	test.FocusNext(c)
	if c.Focused() != field(t, u, "adm1").focus {
		t.Fatalf("Tab from the date does not reach the province")
	}
	test.FocusNext(c)
	if c.Focused() != field(t, u, "adm2").focus {
		t.Fatal("Tab order does not follow the form")
	}
}

func TestLockDuringReport(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	importDemo(t, u.store, 200)
	u.show(5)
	test.Tap(u.reportv.gen) // generation starts in the background
	u.lock()                // the store closes only after it
	test.Type(u.unlockUI.pass, testPass)
	test.Tap(u.unlockUI.button) // reopening waits for that close
	settle(t, u)
	if u.store == nil {
		t.Fatalf("not unlocked again: %q", u.unlockUI.errMsg.Text)
	}
	c, err := u.store.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range c {
		n += m[storage.StatusPending]
	}
	if n != 200 {
		t.Errorf("%d records after lock and unlock, want 200", n)
	}
}

func TestDatePicker(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	u.openNew("casualty")
	e := entry(t, u, "incident_date")
	e.SetText("2024-03-12")
	row := field(t, u, "incident_date").row
	var pick *widget.Button
	for _, o := range row.Objects {
		if c, ok := o.(*fyne.Container); ok {
			for _, x := range c.Objects {
				if b, ok := x.(*widget.Button); ok {
					pick = b
				}
			}
		}
	}
	if pick == nil {
		t.Fatal("no calendar button")
	}
	test.Tap(pick)
	if len(u.win.Canvas().Overlays().List()) != 1 {
		t.Fatal("calendar not shown")
	}
}
