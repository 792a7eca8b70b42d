package cli

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/badgerstore"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// TestSyncedCustomFormUsableOffline: a form published on the hub is fetched
// by sync, and a later command (a new process, the hub gone) adds a record
// of it.
func TestSyncedCustomFormUsableOffline(t *testing.T) {
	ctx := context.Background()
	st, err := badgerstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok, hash := hub.NewToken()
	if err := st.AddDevice(ctx, hub.Device{ID: "dev-1", Name: "Laptop 1", Programme: "LAO",
		Role: protocol.RoleCollector, TokenHash: hash, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	def := `{"id": "school_visit", "version": 1, "title": "School visit", "programme": "LAO",
		"fields": [{"id": "visit_date", "type": "date", "label": "Date of the visit", "required": true},
		{"id": "pupils", "type": "integer", "label": "Pupils reached", "min": 0}]}`
	if err := st.PublishForm(ctx, hub.PublishedForm{Programme: "LAO", FormID: "school_visit", Version: 1,
		Def: json.RawMessage(def), PublishedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub.New(hub.Config{Store: st}).Handler())
	defer srv.Close()

	dir := t.TempDir()
	visit := writeTestFile(t, "visit.json", `{"visit_date": "2026-11-20", "pupils": 31}`)
	run := func(stdin string, args ...string) {
		t.Helper()
		env, out, errb := storeEnv(dir, stdin)
		if code := Run(ctx, env, args); code != 0 {
			t.Fatalf("%s: exit %d\nstdout %s\nstderr %s", strings.Join(args, " "), code, out, errb)
		}
	}
	env, _, _ := storeEnv(dir, "")
	if code := Run(ctx, env, []string{"record", "add", "--form", "school_visit", "--file", visit}); code == 0 {
		t.Fatal("record add of an unknown form succeeded before sync")
	}
	run(tok+"\n", "hub", "connect", "--url", srv.URL, "--token", "-")
	run("", "sync")
	srv.Close()
	run("", "record", "add", "--form", "school_visit", "--file", visit)
}
