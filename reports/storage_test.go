package reports_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/demo"
	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/reports"
	"github.com/ccmcollect/ccmcollect/storage"
)

// TestBuildFromStore runs the aggregates and the export over a real
// encrypted store on disk and checks them against the independent
// computation over the revisions the store returned.
func TestBuildFromStore(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Options{Dir: t.TempDir(), Passphrase: []byte("reports test passphrase"), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mem := &memSource{byForm: map[string][]*record.Revision{}}
	err = demo.Generate(21, 400, testNow, func(formID string, data map[string]any) error {
		rev, err := st.Create(ctx, formID, data)
		if err != nil {
			return err
		}
		mem.byForm[formID] = append(mem.byForm[formID], rev)
		mem.all = append(mem.all, rev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// One record deleted: it must count nowhere.
	gone := mem.byForm["casualty"][0]
	if _, err := st.Delete(ctx, gone.RecordID); err != nil {
		t.Fatal(err)
	}
	mem.byForm["casualty"] = mem.byForm["casualty"][1:]

	rep, err := reports.Build(ctx, st, forms.Builtin(), reports.Filter{}, reports.Meta{GeneratedAt: testNow})
	if err != nil {
		t.Fatal(err)
	}
	want, key := independent(mem, "", "", "", testNow.Year())
	compare(t, rep, want)
	if got := figure(t, rep, "Casualties recorded").N; got != key["casualties"] {
		t.Errorf("casualties = %v, want %v", got, key["casualties"])
	}
	var buf bytes.Buffer
	n, err := reports.WriteCSV(ctx, &buf, st, forms.Builtin(), "casualty", reports.CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(mem.byForm["casualty"]) {
		t.Errorf("exported %d casualties, want %d", n, len(mem.byForm["casualty"]))
	}
	if bytes.Contains(buf.Bytes(), []byte(gone.RecordID)) {
		t.Error("export holds a deleted record")
	}
}
