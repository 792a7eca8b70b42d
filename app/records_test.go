package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
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
