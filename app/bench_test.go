package app

import (
	"context"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/ccmcollect/ccmcollect/demo"
	"github.com/ccmcollect/ccmcollect/storage"
)

// BenchmarkRecordsList100k opens the records screen over 100,000 records
// and scrolls five pages deep: what a user waits for, the store's paged
// List plus the list widget, never the whole data set.
func BenchmarkRecordsList100k(b *testing.B) {
	const n = 100_000
	clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	dir := b.TempDir()
	st, err := storage.Open(context.Background(), storage.Options{Dir: dir, Passphrase: []byte(testPass), Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	rows := map[string][]map[string]any{}
	flush := func(formID string) {
		if _, err := st.Import(context.Background(), formID, rows[formID]); err != nil {
			b.Fatal(err)
		}
		rows[formID] = nil
	}
	err = demo.Generate(3, n, clock.Now(), func(formID string, data map[string]any) error {
		rows[formID] = append(rows[formID], data)
		if len(rows[formID]) == 5000 {
			flush(formID)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for id := range rows {
		if len(rows[id]) > 0 {
			flush(id)
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}

	a := test.NewTempApp(b)
	u := New(a, Options{DataDir: dir, Now: clock.Now, queueDo: true})
	defer u.Close()
	u.unlockUI.pass.SetText(testPass)
	u.submitUnlock(u.unlockUI)
	u.runQueued()
	if u.store == nil {
		b.Fatal("not unlocked")
	}
	b.ResetTimer()
	for b.Loop() {
		u.show(1)
		u.runQueued()
		v := u.records
		for range 4 {
			v.more()
			u.runQueued()
		}
		if len(v.items) != 5*pageSize {
			b.Fatalf("listed %d", len(v.items))
		}
	}
}
