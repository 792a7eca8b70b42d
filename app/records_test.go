package app

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

func TestRecordsFilters(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	type rec struct{ adm1, date string }
	var data []rec
	provinces := []string{"Attapeu", "Savannakhet"}
	for i := range 12 {
		r := rec{provinces[i%2], fmt.Sprintf("2025-01-%02d", 2*i+1)}
		data = append(data, r)
		if _, err := u.store.Create(context.Background(), "casualty", map[string]any{"incident_date": r.date, "adm1": r.adm1,
			"outcome": "injured", "sex": "male", "consent": "yes"}); err != nil {
			t.Fatal(err)
		}
	}
	u.show(1)
	settle(t, u)
	v := u.records
	if len(v.items) != len(data) {
		t.Fatalf("unfiltered list has %d records, want %d", len(v.items), len(data))
	}
	set := func(adm1, from, to string) {
		t.Helper()
		v.adm1.SetText(adm1)
		v.from.entry.SetText(from)
		v.to.entry.SetText(to)
		settle(t, u)
	}
	tests := []struct{ name, adm1, from, to string }{
		{"province", "Attapeu", "", ""},
		{"province any case", "savannakhet ", "", ""},
		{"from", "", "2025-01-09", ""},
		{"to", "", "", "2025-01-07"},
		{"range", "", "2025-01-05", "2025-01-15"},
		{"one day", "", "2025-01-11", "2025-01-11"},
		{"province and range", "Attapeu", "2025-01-04", "2025-01-20"},
		{"no match", "Champasak", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set(tc.adm1, tc.from, tc.to)
			want := 0
			for _, r := range data {
				if (tc.adm1 == "" || strings.EqualFold(r.adm1, strings.TrimSpace(tc.adm1))) &&
					(tc.from == "" || r.date >= tc.from) && (tc.to == "" || r.date <= tc.to) {
					want++
				}
			}
			if len(v.items) != want {
				t.Fatalf("%d records listed, want %d", len(v.items), want)
			}
			for _, s := range v.items {
				if tc.adm1 != "" && !strings.EqualFold(s.Adm1, strings.TrimSpace(tc.adm1)) ||
					tc.from != "" && s.Date < tc.from || tc.to != "" && s.Date > tc.to {
					t.Errorf("listed %s %s outside the filter", s.Adm1, s.Date)
				}
			}
			if v.from.msg.Visible() || v.to.msg.Visible() {
				t.Errorf("valid dates got a message: %q %q", v.from.msg.Text, v.to.msg.Text)
			}
		})
	}

	t.Run("invalid dates change nothing", func(t *testing.T) {
		set("", "2025-01-05", "")
		before := len(v.items)
		for _, tc := range []struct{ from, to, msg string }{
			{"2025-13-01", "", "YYYY-MM-DD"},
			{"5 Jan 2025", "", "YYYY-MM-DD"},
			{"2025-01-05", "2025-01-0", "YYYY-MM-DD"},
			{"2025-01-05", "2025-01-01", "ends before it starts"},
		} {
			v.from.entry.SetText(tc.from)
			v.to.entry.SetText(tc.to)
			settle(t, u)
			msg := v.from.msg.Text + v.to.msg.Text
			if !strings.Contains(msg, tc.msg) || !(v.from.msg.Visible() || v.to.msg.Visible()) {
				t.Errorf("%q..%q: message %q, want %q", tc.from, tc.to, msg, tc.msg)
			}
			if len(v.items) != before {
				t.Errorf("%q..%q changed the list: %d records, want %d", tc.from, tc.to, len(v.items), before)
			}
		}
		v.to.entry.SetText("")
		settle(t, u)
		if v.from.msg.Visible() || v.to.msg.Visible() || len(v.items) != before {
			t.Errorf("after fixing: messages %q %q, %d records", v.from.msg.Text, v.to.msg.Text, len(v.items))
		}
	})
}

// dialogButton finds a button of the dialog on top of u's window.
func dialogButton(t *testing.T, u *UI, text string) *widget.Button {
	t.Helper()
	top := u.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog shown")
	}
	for _, o := range test.LaidOutObjects(top) {
		if b, ok := o.(*widget.Button); ok && b.Text == text {
			return b
		}
	}
	t.Fatalf("dialog has no button %q", text)
	return nil
}

func TestDeleteRecord(t *testing.T) {
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	ctx := context.Background()
	var ids []string
	for _, adm1 := range []string{"Attapeu", "Sekong"} {
		rev, err := u.store.Create(ctx, "casualty", map[string]any{"incident_date": "2025-02-01", "adm1": adm1,
			"outcome": "injured", "sex": "female", "consent": "yes"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rev.RecordID)
	}
	outbox := func() int {
		t.Helper()
		n, err := u.store.OutboxLen(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := outbox()

	t.Run("a draft cannot be deleted", func(t *testing.T) {
		u.openNew("casualty")
		if b := findButton(t, u.win.Canvas().Content(), "Delete"); !b.Disabled() {
			t.Fatal("Delete enabled on a new record")
		}
	})
	t.Run("keep", func(t *testing.T) {
		u.openRecord(ids[0])
		settle(t, u)
		test.Tap(findButton(t, u.win.Canvas().Content(), "Delete"))
		test.Tap(dialogButton(t, u, "Keep"))
		settle(t, u)
		r, err := u.store.Get(ctx, ids[0])
		if err != nil || r.Deleted() || outbox() != before || u.form == nil {
			t.Fatalf("Keep changed something: %v deleted=%v outbox %d form %v", err, r != nil && r.Deleted(), outbox(), u.form != nil)
		}
	})
	t.Run("delete", func(t *testing.T) {
		field(t, u, "village").focus.(*widget.Entry).SetText("Ban Done") // an unsaved edit must not come back as a draft
		test.Tap(findButton(t, u.win.Canvas().Content(), "Delete"))
		test.Tap(dialogButton(t, u, "Delete"))
		settle(t, u)
		r, err := u.store.Get(ctx, ids[0])
		if err != nil || !r.Deleted() || r.Draft != nil {
			t.Fatalf("after delete: %v, deleted %v, draft %v", err, r != nil && r.Deleted(), r != nil && r.Draft != nil)
		}
		if got := outbox(); got != before+1 {
			t.Errorf("outbox %d, want %d: the deletion must sync", got, before+1)
		}
		if u.form != nil || u.records == nil {
			t.Fatal("not back on the records list")
		}
		if len(u.records.items) != 1 || u.records.items[0].ID != ids[1] {
			t.Fatalf("list after delete: %+v", u.records.items)
		}
		if !strings.Contains(u.statusBar.Text, "deleted") {
			t.Errorf("status %q", u.statusBar.Text)
		}
		revs, err := u.store.History(ctx, ids[0])
		if err != nil || !strings.Contains(strings.Join(u.historyLines(revs), "\n"), "deleted") {
			t.Errorf("history does not show the deletion: %v", err)
		}
	})
}
