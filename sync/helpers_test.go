package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	stdsync "sync"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/badgerstore"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/storage"
	"github.com/ccmcollect/ccmcollect/sync/faultproxy"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// today is the clock of hubs and clients in these tests.
var today = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// testHub is a real hub (handler and Badger store on disk) served over real
// HTTP, restartable on the same data directory, behind a fault proxy.
type testHub struct {
	t      testing.TB
	dir    string
	now    func() time.Time
	mu     stdsync.Mutex
	store  *badgerstore.Store
	srv    *httptest.Server
	proxy  *faultproxy.Proxy
	tokens map[string]string // device name -> token
}

// newTestHub starts a hub with devices enrolled: "a", "b" (collectors of
// LAO), "viewer" (viewer of LAO), "khm" (collector of KHM) and "revoked".
func newTestHub(t testing.TB) *testHub {
	t.Helper()
	h := &testHub{t: t, dir: t.TempDir(), now: func() time.Time { return today }, tokens: map[string]string{}}
	st, err := badgerstore.Open(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct{ name, prog, role string }{
		{"a", "LAO", protocol.RoleCollector},
		{"b", "LAO", protocol.RoleCollector},
		{"viewer", "LAO", protocol.RoleViewer},
		{"khm", "KHM", protocol.RoleCollector},
		{"revoked", "LAO", protocol.RoleCollector},
	} {
		tok, hash := hub.NewToken()
		if err := st.AddDevice(context.Background(), hub.Device{ID: "dev-" + d.name, Name: "Laptop " + d.name,
			Programme: d.prog, Role: d.role, TokenHash: hash, CreatedAt: today}); err != nil {
			t.Fatal(err)
		}
		h.tokens[d.name] = tok
	}
	if err := st.RevokeDevice(context.Background(), "dev-revoked", today); err != nil {
		t.Fatal(err)
	}
	h.store = st
	h.serve()
	p, err := faultproxy.Start(h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	h.proxy = p
	t.Cleanup(func() {
		p.Close()
		h.stop()
	})
	return h
}

func (h *testHub) serve() {
	srv := hub.New(hub.Config{Store: h.store, Now: h.now, AuthFailBurst: 1000})
	h.srv = httptest.NewServer(srv.Handler())
}

// stop stops serving and closes the store, as a killed hub would leave it
// (every acknowledged write is already durable).
func (h *testHub) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		h.srv.CloseClientConnections()
		h.srv.Close()
		h.srv = nil
	}
	if h.store != nil {
		if err := h.store.Close(); err != nil {
			h.t.Errorf("closing hub store: %v", err)
		}
		h.store = nil
	}
}

// restart stops the hub and starts it again on the same data directory on
// a new port, which the proxy then forwards to.
func (h *testHub) restart() {
	h.t.Helper()
	h.stop()
	st, err := badgerstore.Open(h.dir)
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.store = st
	h.serve()
	h.proxy.SetTarget(h.srv.Listener.Addr().String())
	h.mu.Unlock()
}

// URL is the hub's address through the fault proxy.
func (h *testHub) URL() string { return h.proxy.URL() }

// revisions pulls every revision the token may see, straight from the hub.
func (h *testHub) revisions(token string) []*record.Revision {
	h.t.Helper()
	var out []*record.Revision
	since := ""
	for range 100000 {
		req, _ := http.NewRequest("GET", h.srv.URL+protocol.PathPull+"?limit=5000&since="+url.QueryEscape(since), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			h.t.Fatal(err)
		}
		var pr protocol.PullResponse
		err = json.NewDecoder(resp.Body).Decode(&pr)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			h.t.Fatalf("pull from hub: %d %v", resp.StatusCode, err)
		}
		out = append(out, pr.Revisions...)
		if !pr.More {
			return out
		}
		since = pr.Next
	}
	h.t.Fatal("hub pull never ended")
	return nil
}

// client is a field laptop: a real encrypted store on disk and an engine.
type client struct {
	t     testing.TB
	name  string
	dir   string
	store *storage.Store
	eng   *Engine
}

// testOptions are engine options with tiny waits, so tests never sleep long.
func testOptions(s Store) Options {
	return Options{
		Store:         s,
		ProbeInterval: 20 * time.Millisecond,
		ProbeTimeout:  2 * time.Second,
		Debounce:      10 * time.Millisecond,
		SyncInterval:  time.Hour,
		HTTPTimeout:   10 * time.Second,
		Attempts:      5,
		BackoffBase:   time.Millisecond,
		BackoffMax:    5 * time.Millisecond,
		MaxRetryWait:  50 * time.Millisecond,
	}
}

// newClient opens a store in a temp dir and connects it to h as device.
func newClient(t testing.TB, h *testHub, device string, mod func(*Options)) *client {
	t.Helper()
	c := &client{t: t, name: device, dir: t.TempDir()}
	c.open(mod)
	if device != "" {
		if _, err := Connect(context.Background(), c.store, h.URL(), h.tokens[device], false); err != nil {
			t.Fatalf("connect %s: %v", device, err)
		}
	}
	return c
}

func (c *client) open(mod func(*Options)) {
	c.t.Helper()
	st, err := storage.Open(context.Background(), storage.Options{Dir: c.dir, Passphrase: []byte("correct horse " + c.name),
		Now: func() time.Time { return today }})
	if err != nil {
		c.t.Fatal(err)
	}
	o := testOptions(st)
	if mod != nil {
		mod(&o)
	}
	eng, err := New(o)
	if err != nil {
		c.t.Fatal(err)
	}
	c.store, c.eng = st, eng
	c.t.Cleanup(c.close)
}

func (c *client) close() {
	if c.eng != nil {
		c.eng.Close()
		c.eng = nil
	}
	if c.store != nil {
		if err := c.store.Close(); err != nil {
			c.t.Errorf("closing store of %s: %v", c.name, err)
		}
		c.store = nil
	}
}

// sync runs one sync and fails the test on error.
func (c *client) sync() Result {
	c.t.Helper()
	res, err := c.eng.SyncNow(context.Background())
	if err != nil {
		c.t.Fatalf("sync of %s: %v", c.name, err)
	}
	return res
}

// create saves n new casualty records and returns their ids.
func (c *client) create(n int) []string {
	c.t.Helper()
	ids := make([]string, n)
	for i := range n {
		r, err := c.store.Create(context.Background(), "casualty", casualty(i))
		if err != nil {
			c.t.Fatalf("create: %v", err)
		}
		ids[i] = r.RecordID
	}
	return ids
}

// edit saves new data for id (on a conflicted record: the merge).
func (c *client) edit(id string, village string) *record.Revision {
	c.t.Helper()
	rec, err := c.store.Get(context.Background(), id)
	if err != nil {
		c.t.Fatal(err)
	}
	data := rec.Current.Clone().Data
	data["village"] = village
	r, err := c.store.Edit(context.Background(), id, data)
	if err != nil {
		c.t.Fatalf("edit: %v", err)
	}
	return r
}

// revs returns every revision rev the client holds, record by record.
func (c *client) revs() map[string]bool {
	c.t.Helper()
	ctx := context.Background()
	out := map[string]bool{}
	q := storage.Query{Limit: 500}
	for {
		p, err := c.store.List(ctx, q)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, s := range p.Records {
			h, err := c.store.History(ctx, s.ID)
			if err != nil {
				c.t.Fatal(err)
			}
			for _, r := range h {
				if out[r.Rev] {
					c.t.Errorf("%s holds %s twice", c.name, r.Rev)
				}
				out[r.Rev] = true
			}
		}
		if p.Next == "" {
			return out
		}
		q.Cursor = p.Next
	}
}

// casualty returns valid casualty data; i varies it.
func casualty(i int) map[string]any {
	return map[string]any{
		"incident_date":   "2024-03-12",
		"adm1":            "Xiengkhouang",
		"village":         fmt.Sprintf("Ban %d", i),
		"cm_context":      "remnant",
		"device_category": "submunition",
		"outcome":         "injured",
		"sex":             []string{"female", "male", "unknown"}[i%3],
		"age":             float64(5 + i%80),
		"civil_status":    "civilian",
		"activity":        "farming",
	}
}

// assertConverged checks that the hub holds every revision exactly once and
// exactly the revisions each client holds, and that every client has an
// empty outbox.
func assertConverged(t testing.TB, h *testHub, clients ...*client) {
	t.Helper()
	hubRevs := h.revisions(h.tokens["viewer"])
	seen := map[string]bool{}
	for _, r := range hubRevs {
		if seen[r.Rev] {
			t.Errorf("hub serves %s twice", r.Rev)
		}
		seen[r.Rev] = true
		if err := r.Verify(); err != nil {
			t.Errorf("hub revision: %v", err)
		}
	}
	for _, c := range clients {
		got := c.revs()
		if missing, extra := diff(seen, got); len(missing)+len(extra) > 0 {
			t.Errorf("%s differs from the hub: missing %d %v, extra %d %v", c.name, len(missing), head(missing), len(extra), head(extra))
		}
		n, err := c.store.OutboxLen(context.Background())
		if err != nil || n != 0 {
			t.Errorf("%s outbox holds %d (%v), want 0", c.name, n, err)
		}
	}
}

func diff(want, got map[string]bool) (missing, extra []string) {
	for r := range want {
		if !got[r] {
			missing = append(missing, r)
		}
	}
	for r := range got {
		if !want[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

func head(s []string) []string { return s[:min(len(s), 3)] }

// waitFor polls cond until it holds or the test times out waiting 10s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
