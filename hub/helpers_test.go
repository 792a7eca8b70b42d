package hub_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/badgerstore"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// clock is a settable clock for rate limits.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var today = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// testHub is a hub on a Badger store in a temp dir, served over real HTTP,
// with four devices enrolled.
type testHub struct {
	t      *testing.T
	url    string
	store  hub.Store
	srv    *hub.Server
	clock  *clock
	logs   *syncBuffer
	tokens map[string]string // collector, viewer, khm, revoked
	ids    map[string]string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// openStore opens the store handler tests run on: Badger, or PostgreSQL
// under TestHandlersOnPostgres.
var openStore = func(t *testing.T) hub.Store {
	t.Helper()
	st, err := badgerstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newTestHub(t *testing.T, mod func(*hub.Config)) *testHub {
	t.Helper()
	st := openStore(t)
	h := &testHub{t: t, store: st, clock: &clock{t: today}, logs: &syncBuffer{},
		tokens: map[string]string{}, ids: map[string]string{}}
	for _, d := range []struct{ key, prog, role string }{
		{"collector", "LAO", protocol.RoleCollector},
		{"collector2", "LAO", protocol.RoleCollector},
		{"viewer", "LAO", protocol.RoleViewer},
		{"khm", "KHM", protocol.RoleCollector},
		{"revoked", "LAO", protocol.RoleCollector},
	} {
		tok, hash := hub.NewToken()
		id := "dev-" + d.key
		if err := st.AddDevice(context.Background(), hub.Device{ID: id, Name: "Laptop " + d.key,
			Programme: d.prog, Role: d.role, TokenHash: hash, CreatedAt: today}); err != nil {
			t.Fatal(err)
		}
		h.tokens[d.key], h.ids[d.key] = tok, id
	}
	if err := st.RevokeDevice(context.Background(), "dev-revoked", today); err != nil {
		t.Fatal(err)
	}
	cfg := hub.Config{Store: st, Now: h.clock.now,
		Logger: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mod != nil {
		mod(&cfg)
	}
	h.srv = hub.New(cfg)
	ts := httptest.NewServer(checkAgainstSpec(t, h.srv.Handler()))
	h.url = ts.URL
	t.Cleanup(func() {
		ts.Close()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return h
}

// response is an answer read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errorCode() string {
	var eb protocol.ErrorBody
	json.Unmarshal(r.body, &eb)
	return eb.Error.Code
}

// do sends a request; token "" sends none. Bodies of []byte are sent as is,
// other values as JSON.
func (h *testHub) do(method, path, token string, body any, hdr ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var src io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		z, err := gzip.NewReader(resp.Body)
		if err != nil {
			h.t.Fatalf("gzip answer: %v", err)
		}
		src = z
	}
	b, err := io.ReadAll(src)
	if err != nil {
		h.t.Fatalf("read answer: %v", err)
	}
	if resp.StatusCode >= 400 {
		var eb protocol.ErrorBody
		if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			h.t.Errorf("%s %s: %d answer is not a JSON error: %s", method, path, resp.StatusCode, b)
		}
	}
	if ct := resp.Header.Get("Content-Type"); path != hub.PathMetrics && !strings.HasPrefix(ct, "application/json") {
		h.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// casualty returns valid casualty data.
func casualty(i int) map[string]any {
	return map[string]any{
		"incident_date":   "2024-03-12",
		"adm1":            "Xiengkhouang",
		"village":         fmt.Sprintf("Ban %d", i),
		"cm_context":      "remnant",
		"device_category": "submunition",
		"outcome":         "injured",
		"sex":             "female",
		"age":             float64(20 + i%60),
		"civil_status":    "civilian",
		"activity":        "farming",
	}
}

func newRev(t testing.TB, programme string, data map[string]any) *record.Revision {
	t.Helper()
	r, err := record.NewRevision(record.NewID(), "casualty", 1, data,
		record.Meta{Programme: programme, DeviceID: "dev-collector", User: "tester", SavedAt: today})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (h *testHub) push(token string, revs ...*record.Revision) (response, []protocol.PushResult) {
	h.t.Helper()
	resp := h.do("POST", protocol.PathPush, token, protocol.PushRequest{Revisions: revs})
	if resp.status != http.StatusOK {
		return resp, nil
	}
	var pr protocol.PushResponse
	if err := json.Unmarshal(resp.body, &pr); err != nil {
		h.t.Fatalf("push answer: %v: %s", err, resp.body)
	}
	if len(pr.Results) != len(revs) {
		h.t.Fatalf("push of %d got %d results", len(revs), len(pr.Results))
	}
	for i, r := range pr.Results {
		if r.Rev != revs[i].Rev {
			h.t.Errorf("result %d is for %s, want %s (request order)", i, r.Rev, revs[i].Rev)
		}
	}
	return resp, pr.Results
}

// pullAll pages through everything token may see, with limit.
func (h *testHub) pullAll(token string, limit int) []*record.Revision {
	h.t.Helper()
	var out []*record.Revision
	since := ""
	for range 10000 {
		resp := h.do("GET", fmt.Sprintf("%s?since=%s&limit=%d", protocol.PathPull, since, limit), token, nil)
		if resp.status != http.StatusOK {
			h.t.Fatalf("pull: %d %s", resp.status, resp.body)
		}
		var pr protocol.PullResponse
		if err := json.Unmarshal(resp.body, &pr); err != nil {
			h.t.Fatalf("pull answer: %v", err)
		}
		out = append(out, pr.Revisions...)
		since = pr.Next
		if !pr.More {
			return out
		}
	}
	h.t.Fatal("pull never ended")
	return nil
}

func statuses(rs []protocol.PushResult) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Status
	}
	return out
}
