package sync

import (
	"context"
	"errors"
	"net/http"
	"testing"

	fp "github.com/ccmcollect/ccmcollect/sync/faultproxy"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// TestFaults cuts, delays and refuses sync traffic at chosen points, lets
// the faulted sync fail (one attempt per call, so nothing hides behind a
// retry), and then checks that plain syncs complete the work: afterwards
// the hub and both clients hold exactly the same revisions, none lost and
// none doubled.
func TestFaults(t *testing.T) {
	push := func(r fp.Rule) fp.Rule { r.Method, r.PathPrefix = http.MethodPost, protocol.PathPush; return r }
	pull := func(r fp.Rule) fp.Rule { r.Method, r.PathPrefix = http.MethodGet, protocol.PathPull; return r }
	tests := []struct {
		name string
		rule fp.Rule
		// during runs while the faulted sync is cut off (e.g. restarts the hub).
		restart bool
		// applied reports whether the hub must hold the faulted batch already.
		applied bool
		// pulledFirst is how many revisions the faulted pull must have kept.
		pulledFirst int
	}{
		{name: "push dropped before the request", rule: push(fp.Rule{Action: fp.CutRequest})},
		{name: "push cut inside the request", rule: push(fp.Rule{Action: fp.CutRequest, Bytes: 300})},
		{name: "push applied, answer lost", rule: push(fp.Rule{Action: fp.CutResponse}), applied: true},
		{name: "push applied, answer cut", rule: push(fp.Rule{Action: fp.CutResponse, Bytes: 120}), applied: true},
		{name: "second push applied, answer lost", rule: push(fp.Rule{Action: fp.CutResponse, Skip: 1}), applied: true},
		{name: "push applied, hub killed before answering", rule: push(fp.Rule{Action: fp.CutResponse}), restart: true, applied: true},
		{name: "push 503", rule: push(fp.Rule{Action: fp.Respond, Status: 503})},
		{name: "push 429", rule: push(fp.Rule{Action: fp.Respond, Status: 429, RetryAfter: "0"})},
		// Go's transport itself retries an idempotent GET once when a reused
		// connection fails, so pull faults fire twice to reach the engine.
		{name: "pull dropped before the request", rule: pull(fp.Rule{Action: fp.CutRequest, Times: 2})},
		{name: "pull cut mid-page", rule: pull(fp.Rule{Action: fp.CutResponse, Bytes: 700, Skip: 2, Times: 2}), pulledFirst: 12},
		{name: "pull answer lost", rule: pull(fp.Rule{Action: fp.CutResponse, Skip: 3, Times: 2}), pulledFirst: 18},
		{name: "pull 502", rule: pull(fp.Rule{Action: fp.Respond, Status: 502, Skip: 1}), pulledFirst: 6},
		{name: "hub killed and restarted", rule: push(fp.Rule{Action: fp.CutRequest}), restart: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHub(t)
			opts := func(o *Options) { o.PushBatch, o.PullLimit = 8, 6 }
			a := newClient(t, h, "a", opts)
			b := newClient(t, h, "b", opts)
			// b has data on the hub already, so a has something to pull.
			b.create(25)
			b.sync()
			ids := a.create(20)
			a.edit(ids[3], "Ban Edited")
			a.edit(ids[3], "Ban Edited Twice")

			one, err := New(func() Options { o := testOptions(a.store); opts(&o); o.Attempts = 1; return o }())
			if err != nil {
				t.Fatal(err)
			}
			defer one.Close()
			h.proxy.Add(tt.rule)
			res, err := one.SyncNow(context.Background())
			if err == nil {
				t.Fatalf("faulted sync succeeded: %+v", res)
			}
			if h.proxy.Faults() == 0 {
				t.Fatal("no fault injected")
			}
			if s := one.Status(); s.LastError == "" || s.Syncing {
				t.Errorf("status after the fault: %+v", s)
			}
			h.proxy.Clear()
			if tt.restart {
				h.restart()
			}
			if tt.applied {
				if n := len(h.revisions(h.tokens["a"])); n < 25+8 {
					t.Errorf("hub holds %d revisions, want the faulted batch applied", n)
				}
			}
			if tt.pulledFirst > 0 && res.Pulled != tt.pulledFirst {
				t.Errorf("faulted pull kept %d revisions, want %d", res.Pulled, tt.pulledFirst)
			}

			// Plain syncs complete it.
			res2 := a.sync()
			if got := res.Pushed + res2.Pushed + res2.Duplicates; got != 22 {
				t.Errorf("pushed %d + %d (+%d duplicates), want 22 in all", res.Pushed, res2.Pushed, res2.Duplicates)
			}
			if res.Pulled+res2.Pulled != 25 {
				t.Errorf("pulled %d + %d, want 25 in all", res.Pulled, res2.Pulled)
			}
			b.sync()
			a.sync()
			assertConverged(t, h, a, b)
			rec, err := b.store.Get(context.Background(), ids[3])
			if err != nil || rec.Current.Data["village"] != "Ban Edited Twice" || rec.Conflicted {
				t.Errorf("b sees %v, %v", rec, err)
			}
		})
	}
}

// TestHubDownDuringSync stops the hub in the middle of a multi-batch push.
func TestHubDownDuringSync(t *testing.T) {
	h := newTestHub(t)
	a := newClient(t, h, "a", func(o *Options) { o.PushBatch, o.Attempts = 5, 2 })
	a.create(30)
	// The third push reaches a hub that has gone away.
	h.proxy.Add(fp.Rule{Method: http.MethodPost, PathPrefix: protocol.PathPush, Skip: 2, Action: fp.CutRequest})
	first, err := a.eng.SyncNow(context.Background())
	_ = first
	// The retry of the third batch goes through (attempts=2), unless the hub
	// is really down:
	if err != nil {
		t.Fatalf("sync with one retry: %v", err)
	}
	b := newClient(t, h, "b", nil)
	a.create(10)
	h.stop()
	res, err := a.eng.SyncNow(context.Background())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("sync with the hub down: %+v %v, want ErrUnreachable", res, err)
	}
	if s := a.eng.Status(); s.Online || s.Pending != 10 {
		t.Errorf("status with the hub down: %+v", s)
	}
	h.restart()
	a.sync()
	b.sync()
	assertConverged(t, h, a, b)
}
