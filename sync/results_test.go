package sync

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/storage"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// TestPushResultCount checks that a push answer with more or fewer results
// than revisions sent is a protocol error that acknowledges nothing: the
// real hub answers, and a server in front of it adds or drops results.
func TestPushResultCount(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tamper func([]protocol.PushResult) []protocol.PushResult
	}{
		{"one more", func(r []protocol.PushResult) []protocol.PushResult { return append(r, r[0]) }},
		{"one fewer", func(r []protocol.PushResult) []protocol.PushResult { return r[:len(r)-1] }},
		{"none", func(r []protocol.PushResult) []protocol.PushResult { return r[:0] }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h := newTestHub(t)
			real := hub.New(hub.Config{Store: h.store, Now: h.now, AuthFailBurst: 1000}).Handler()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header.Del("Accept-Encoding") // a plain JSON answer to rewrite
				if r.URL.Path != protocol.PathPush {
					real.ServeHTTP(w, r)
					return
				}
				rec := httptest.NewRecorder()
				real.ServeHTTP(rec, r)
				var resp protocol.PushResponse
				if rec.Code != http.StatusOK {
					t.Errorf("hub answered the push with %d: %s", rec.Code, rec.Body)
				} else if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Results) == 0 {
					t.Errorf("hub push answer %s: %v", rec.Body, err)
				} else {
					resp.Results = tt.tamper(resp.Results)
				}
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(resp)
			}))
			t.Cleanup(srv.Close)

			c := newClient(t, h, "", nil)
			if _, err := Connect(ctx, c.store, srv.URL, h.tokens["a"], false); err != nil {
				t.Fatalf("connect: %v", err)
			}
			ids := c.create(3)
			if _, err := c.eng.SyncNow(ctx); !errors.Is(err, ErrProtocol) {
				t.Fatalf("sync: %v, want ErrProtocol", err)
			}
			if n, err := c.store.OutboxLen(ctx); err != nil || n != len(ids) {
				t.Errorf("outbox holds %d (%v), want all %d still waiting", n, err, len(ids))
			}
			for _, id := range ids {
				r, err := c.store.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if r.Status != storage.StatusPending {
					t.Errorf("record %s is %s after a bad push answer, want pending", id, r.Status)
				}
			}
		})
	}
}
