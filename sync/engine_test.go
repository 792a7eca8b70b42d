package sync

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/storage"
	"github.com/ccmcollect/ccmcollect/sync/faultproxy"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

func TestPushPullRoundTrip(t *testing.T) {
	h := newTestHub(t)
	// Tiny batches and pages so that several of each are needed.
	small := func(o *Options) { o.PushBatch, o.PullLimit = 7, 5 }
	a := newClient(t, h, "a", small)
	b := newClient(t, h, "b", small)
	ids := a.create(23)
	a.edit(ids[0], "Ban Edited") // a child in the same outbox as its parent

	res := a.sync()
	if res.Pushed != 24 || res.Duplicates != 0 || res.Rejected != 0 || res.Conflicts != 0 {
		t.Errorf("first push: %+v, want 24 pushed", res)
	}
	if got := h.proxy.Requests("POST", protocol.PathPush); got != 4 {
		t.Errorf("%d pushes, want 4 batches of at most 7", got)
	}
	res = b.sync()
	if res.Pulled != 24 || res.Pushed != 0 {
		t.Errorf("pull into b: %+v, want 24 pulled", res)
	}
	rec, err := b.store.Get(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if rec.Current.Data["village"] != "Ban Edited" || rec.Conflicted {
		t.Errorf("b sees %v (conflicted %v), want the edit", rec.Current.Data["village"], rec.Conflicted)
	}
	// a pulls its own revisions back once; nothing is new to it.
	if res := a.sync(); res.Pulled != 0 || res.Pushed != 0 {
		t.Errorf("a's second sync: %+v, want nothing new", res)
	}
	assertConverged(t, h, a, b)

	// Nothing to do: one pull request, and a small one.
	before := h.proxy.Requests("GET", protocol.PathPull)
	res = b.sync()
	if res != (Result{Bytes: res.Bytes}) || res.Bytes == 0 || res.Bytes > 2048 {
		t.Errorf("idle sync: %+v, want no counts and a few hundred bytes", res)
	}
	if got := h.proxy.Requests("GET", protocol.PathPull) - before; got != 1 {
		t.Errorf("idle sync made %d pull requests, want 1", got)
	}
	st := b.eng.Status()
	if !st.Configured || !st.Online || st.Syncing || st.Phase != PhaseIdle || st.Pending != 0 ||
		st.LastSuccess.IsZero() || st.LastError != "" {
		t.Errorf("status after sync: %+v", st)
	}
}

func TestProgrammeFilledOnPush(t *testing.T) {
	h := newTestHub(t)
	// Records saved before enrolment carry no programme or device.
	c := newClient(t, h, "", nil)
	ids := c.create(2)
	if _, err := c.eng.SyncNow(context.Background()); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("sync before connect: %v, want ErrNotConfigured", err)
	}
	if _, err := Connect(context.Background(), c.store, h.URL(), h.tokens["a"], false); err != nil {
		t.Fatal(err)
	}
	if res := c.sync(); res.Pushed != 2 {
		t.Fatalf("push: %+v", res)
	}
	for _, r := range h.revisions(h.tokens["a"]) {
		if r.Programme != "LAO" || r.DeviceID != "dev-a" {
			t.Errorf("hub holds %s with programme %q device %q", r.RecordID, r.Programme, r.DeviceID)
		}
	}
	if len(h.revisions(h.tokens["khm"])) != 0 {
		t.Error("another programme sees LAO's records")
	}
	_ = ids
}

// A laptop enrolled again gets a new device id; what it saved under the old
// enrolment still waits in its outbox and must not be refused for it.
func TestOutboxOfEarlierEnrolmentIsPushed(t *testing.T) {
	h := newTestHub(t)
	c := newClient(t, h, "a", nil)
	ctx := context.Background()
	id, err := c.store.Identity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := id
	old.DeviceID = "dev-retired"
	if err := c.store.SetIdentity(ctx, old); err != nil {
		t.Fatal(err)
	}
	c.create(2)
	if err := c.store.SetIdentity(ctx, id); err != nil {
		t.Fatal(err)
	}
	if res := c.sync(); res.Pushed != 2 || res.Rejected != 0 {
		t.Fatalf("push of the earlier enrolment's records: %+v, want 2 pushed", res)
	}
	for _, r := range h.revisions(h.tokens["a"]) {
		if r.DeviceID != id.DeviceID {
			t.Errorf("hub holds %s from device %q, want the pushing device %q", r.RecordID, r.DeviceID, id.DeviceID)
		}
	}
}

func TestConflictConverges(t *testing.T) {
	h := newTestHub(t)
	a := newClient(t, h, "a", nil)
	b := newClient(t, h, "b", nil)
	ids := a.create(1)
	id := ids[0]
	a.sync()
	b.sync()

	// Both edit the record offline.
	ra := a.edit(id, "Ban A")
	rb := b.edit(id, "Ban B")
	if res := a.sync(); res.Pushed != 1 || res.Conflicts != 0 {
		t.Errorf("a pushes: %+v", res)
	}
	if res := b.sync(); res.Pushed != 1 || res.Conflicts < 1 || res.Pulled != 1 {
		t.Errorf("b pushes into a conflict: %+v", res)
	}
	if res := a.sync(); res.Pulled != 1 || res.Conflicts != 1 {
		t.Errorf("a pulls the conflict: %+v", res)
	}
	winner := ra.Rev
	if rb.Rev > ra.Rev {
		winner = rb.Rev
	}
	for _, c := range []*client{a, b} {
		rec, err := c.store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Conflicted || rec.Current.Rev != winner || len(rec.Leaves) != 2 || rec.Status != storage.StatusConflict {
			t.Errorf("%s: conflicted %v winner %s leaves %v status %s; want conflict won by %s",
				c.name, rec.Conflicted, rec.Current.Rev, rec.Leaves, rec.Status, winner)
		}
	}
	assertConverged(t, h, a, b)

	// A merge saved on b clears the conflict everywhere.
	m := b.edit(id, "Ban AB")
	if len(m.Parents) != 2 {
		t.Fatalf("merge has parents %v, want both leaves", m.Parents)
	}
	b.sync()
	a.sync()
	for _, c := range []*client{a, b} {
		rec, err := c.store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Conflicted || rec.Current.Rev != m.Rev || len(rec.Leaves) != 1 {
			t.Errorf("%s after merge: conflicted %v current %s leaves %v", c.name, rec.Conflicted, rec.Current.Rev, rec.Leaves)
		}
	}
	assertConverged(t, h, a, b)
}

func TestRejectedStaysWithReason(t *testing.T) {
	h := newTestHub(t)
	a := newClient(t, h, "a", nil)
	// The laptop's clock is a year ahead: an incident "yesterday" is in the
	// hub's future, so the hub rejects it (and its edit: parent unknown).
	a.close()
	st, err := storage.Open(context.Background(), storage.Options{Dir: a.dir, Passphrase: []byte("correct horse a"),
		Now: func() time.Time { return today.AddDate(1, 0, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	a.store = st
	a.eng, _ = New(testOptions(st))
	ctx := context.Background()
	good := a.create(2)
	data := casualty(9)
	data["incident_date"] = today.AddDate(0, 6, 0).Format(time.DateOnly)
	bad, err := st.Create(ctx, "casualty", data)
	if err != nil {
		t.Fatal(err)
	}
	a.edit(bad.RecordID, "Ban Later")
	more := a.create(1)

	res := a.sync()
	if res.Pushed != 3 || res.Rejected != 2 {
		t.Errorf("sync: %+v, want 3 pushed and 2 rejected", res)
	}
	rej, err := st.Rejected(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rej) != 2 || rej[0].Rev.RecordID != bad.RecordID || rej[0].Rejection == "" || rej[1].Rejection == "" {
		t.Fatalf("rejected entries: %+v", rej)
	}
	if s := a.eng.Status(); s.Rejected != 2 || s.Pending != 0 {
		t.Errorf("status: %+v, want 2 rejected", s)
	}
	rec, err := st.Get(ctx, bad.RecordID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != storage.StatusRejected || rec.Rejection == "" {
		t.Errorf("record status %s rejection %q", rec.Status, rec.Rejection)
	}
	// The next sync does not resend them.
	before := h.proxy.Requests("POST", protocol.PathPush)
	if res := a.sync(); res.Pushed+res.Rejected+res.Duplicates != 0 {
		t.Errorf("second sync: %+v", res)
	}
	if h.proxy.Requests("POST", protocol.PathPush) != before {
		t.Error("rejected revisions were pushed again")
	}
	hubRevs := map[string]bool{}
	for _, r := range h.revisions(h.tokens["a"]) {
		hubRevs[r.RecordID] = true
	}
	if hubRevs[bad.RecordID] || !hubRevs[good[0]] || !hubRevs[more[0]] {
		t.Errorf("hub holds %v", hubRevs)
	}
}

func TestAuthErrorsStop(t *testing.T) {
	tests := []struct {
		name   string
		device string
		push   bool // whether there is something to push
	}{
		{"revoked token", "revoked", true},
		{"viewer only pulls", "viewer", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHub(t)
			// Connect with a valid token, then the hub revokes it.
			c := newClient(t, h, "a", nil)
			if err := c.store.SetSetting(context.Background(), SettingHubToken, []byte(h.tokens[tt.device])); err != nil {
				t.Fatal(err)
			}
			id, _ := c.store.Identity(context.Background())
			if tt.device == "viewer" {
				id.Role = protocol.RoleViewer
				if err := c.store.SetIdentity(context.Background(), id); err != nil {
					t.Fatal(err)
				}
			}
			if tt.push {
				c.create(1)
			}
			_, err := c.eng.SyncNow(context.Background())
			if tt.device == "viewer" {
				if err != nil {
					t.Fatalf("viewer sync: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("sync with a revoked token: %v, want ErrAuth", err)
			}
			if strings.Contains(err.Error(), h.tokens[tt.device]) {
				t.Error("the error quotes the token")
			}
			if n := h.proxy.Requests("POST", protocol.PathPush); n != 1 {
				t.Errorf("%d push attempts, want 1 (no retries)", n)
			}
			// Run keeps probing health but never tries to sync again.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error)
			go func() { done <- c.eng.Run(ctx) }()
			waitFor(t, "probes", func() bool { return h.proxy.Requests("GET", protocol.PathHealth) >= 5 })
			if n := h.proxy.Requests("POST", protocol.PathPush); n > 2 {
				t.Errorf("%d push attempts after an auth error, want at most 2", n)
			}
			if err := c.eng.Close(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			if s := c.eng.Status(); !strings.Contains(s.LastError, "refused") {
				t.Errorf("status error %q does not say the token was refused", s.LastError)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url      string
		insecure bool
		want     string
		err      error
	}{
		{"https://hub.example.org/", false, "https://hub.example.org", nil},
		{"https://hub.example.org:8443/ccm/", false, "https://hub.example.org:8443/ccm", nil},
		{"http://127.0.0.1:8470", false, "http://127.0.0.1:8470", nil},
		{"http://127.8.0.1:8470", false, "http://127.8.0.1:8470", nil},
		{"http://localhost:8470", false, "http://localhost:8470", nil},
		{"http://[::1]:8470", false, "http://[::1]:8470", nil},
		{"http://hub.example.org", false, "", ErrInsecureURL},
		{"http://10.0.0.5:8470", false, "", ErrInsecureURL},
		{"http://localhost.example.org", false, "", ErrInsecureURL},
		{"http://hub.example.org", true, "http://hub.example.org", nil},
		{"ftp://hub.example.org", true, "", errAny},
		{"hub.example.org", false, "", errAny},
		{"https://user:pw@hub.example.org", false, "", errAny},
		{"https://hub.example.org/?token=x", false, "", errAny},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := CheckURL(tt.url, tt.insecure)
			switch {
			case tt.err == errAny && err == nil:
				t.Errorf("CheckURL = %q, want an error", got)
			case tt.err != nil && tt.err != errAny && !errors.Is(err, tt.err):
				t.Errorf("CheckURL error %v, want %v", err, tt.err)
			case tt.err == nil && (err != nil || got != tt.want):
				t.Errorf("CheckURL = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestConnect(t *testing.T) {
	h := newTestHub(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		url   string
		token string
		err   error
	}{
		{"unknown token", h.URL(), "not-a-token", ErrAuth},
		{"revoked token", h.URL(), h.tokens["revoked"], ErrAuth},
		{"no hub there", "http://127.0.0.1:1", h.tokens["a"], ErrUnreachable},
		{"plain http elsewhere", "http://hub.example.org", h.tokens["a"], ErrInsecureURL},
		{"empty token", h.URL(), " ", errAny},
	}
	c := newClient(t, h, "", nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Connect(ctx, c.store, tt.url, tt.token, false)
			if err == nil || (tt.err != errAny && !errors.Is(err, tt.err)) {
				t.Fatalf("Connect: %v, want %v", err, tt.err)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) && len(tt.token) > 3 {
				t.Error("the error quotes the token")
			}
			// Nothing was stored.
			if _, err := c.store.Setting(ctx, SettingHubToken); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("token setting after a failed connect: %v", err)
			}
			if id, _ := c.store.Identity(ctx); id.Programme != "" {
				t.Errorf("identity after a failed connect: %+v", id)
			}
		})
	}
	w, err := Connect(ctx, c.store, h.URL()+"/", h.tokens["a"], false)
	if err != nil {
		t.Fatal(err)
	}
	if w.Programme != "LAO" || w.DeviceID != "dev-a" || w.Role != protocol.RoleCollector {
		t.Errorf("whoami %+v", w)
	}
	id, err := c.store.Identity(ctx)
	if err != nil || id.Programme != "LAO" || id.DeviceID != "dev-a" || id.DeviceName != "Laptop a" || id.Role != "collector" {
		t.Errorf("identity %+v, %v", id, err)
	}
	if u, err := c.store.Setting(ctx, SettingHubURL); err != nil || string(u) != h.URL() {
		t.Errorf("stored URL %q, %v", u, err)
	}
	// A token of another programme is refused for this store.
	if _, err := Connect(ctx, c.store, h.URL(), h.tokens["khm"], false); !errors.Is(err, ErrProgrammeChange) {
		t.Errorf("connect to another programme: %v, want ErrProgrammeChange", err)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		rule     faultproxy.Rule
		attempts int
		wantErr  error
		waits    []time.Duration // waits asked for; 0 = any backoff
	}{
		{name: "503 then ok", rule: faultproxy.Rule{Action: faultproxy.Respond, Status: 503, Times: 2}, attempts: 5, waits: []time.Duration{0, 0}},
		{name: "429 honours Retry-After", rule: faultproxy.Rule{Action: faultproxy.Respond, Status: 429, RetryAfter: "3"}, attempts: 5, waits: []time.Duration{3 * time.Second}},
		{name: "long Retry-After ends the sync", rule: faultproxy.Rule{Action: faultproxy.Respond, Status: 429, RetryAfter: "3600"}, attempts: 5, wantErr: errAny},
		{name: "5xx beyond attempts", rule: faultproxy.Rule{Action: faultproxy.Respond, Status: 500, Times: -1}, attempts: 3, wantErr: errAny, waits: []time.Duration{0, 0}},
		{name: "dropped connection", rule: faultproxy.Rule{Action: faultproxy.CutRequest, Times: 3}, attempts: 5, waits: []time.Duration{0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHub(t)
			c := newClient(t, h, "a", func(o *Options) {
				o.Attempts = tt.attempts
				o.MaxRetryWait = 10 * time.Second
				o.BackoffBase, o.BackoffMax = 100*time.Millisecond, 400*time.Millisecond
			})
			var waits []time.Duration
			c.eng.sleep = func(ctx context.Context, d time.Duration) error {
				waits = append(waits, d)
				return nil
			}
			c.create(3)
			rule := tt.rule
			rule.Method, rule.PathPrefix = http.MethodPost, protocol.PathPush
			h.proxy.Add(rule)
			res, err := c.eng.SyncNow(context.Background())
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("sync succeeded: %+v", res)
				}
			} else if err != nil || res.Pushed != 3 {
				t.Fatalf("sync: %+v, %v", res, err)
			}
			if len(waits) != len(tt.waits) {
				t.Fatalf("waits %v, want %d", waits, len(tt.waits))
			}
			for i, w := range tt.waits {
				switch {
				case w > 0 && waits[i] != w:
					t.Errorf("wait %d = %v, want %v", i, waits[i], w)
				case w == 0 && (waits[i] < 50*time.Millisecond || waits[i] > 400*time.Millisecond):
					t.Errorf("backoff %d = %v, outside [50ms, 400ms]", i, waits[i])
				}
			}
			h.proxy.Clear()
			c.sync()
			assertConverged(t, h, c)
		})
	}
}

func TestBackoff(t *testing.T) {
	p := retryPolicy{base: 100 * time.Millisecond, max: time.Second}
	for _, r := range []float64{0, 0.5, 0.999} {
		p.rnd = func() float64 { return r }
		prev := time.Duration(0)
		for n := 1; n <= 8; n++ {
			d := p.backoff(n)
			ceil := min(p.base<<(n-1), p.max)
			if d < ceil/2 || d > ceil {
				t.Errorf("backoff(%d) with jitter %v = %v, want in [%v, %v]", n, r, d, ceil/2, ceil)
			}
			if d < prev {
				t.Errorf("backoff(%d) = %v shrank from %v", n, d, prev)
			}
			prev = d
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"7", 7 * time.Second}, {"-3", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRunAutoSync(t *testing.T) {
	h := newTestHub(t)
	a := newClient(t, h, "a", nil)
	b := newClient(t, h, "b", nil)
	// The hub is unreachable at first: Run stays quiet (probes only).
	h.proxy.Add(faultproxy.Rule{Action: faultproxy.CutRequest, Times: -1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	statuses, unsubscribe := a.eng.Subscribe()
	defer unsubscribe()
	done := make(chan error, 1)
	go func() { done <- a.eng.Run(ctx) }()
	a.create(2)
	a.eng.Nudge()
	waitFor(t, "offline probes", func() bool { return h.proxy.Requests("GET", protocol.PathHealth) >= 5 })
	if n := h.proxy.Requests("POST", protocol.PathPush) + h.proxy.Requests("GET", protocol.PathPull); n != 0 {
		t.Errorf("%d sync requests while offline, want 0", n)
	}
	waitFor(t, "pending count while offline", func() bool { return a.eng.Status().Pending == 2 })
	if s := a.eng.Status(); s.Online || !s.Configured {
		t.Errorf("status while offline: %+v", s)
	}
	// The hub becomes reachable: Run syncs on its own.
	h.proxy.Clear()
	var last Status
	waitFor(t, "auto-sync", func() bool {
		select {
		case last = <-statuses:
		default:
		}
		return !last.LastSuccess.IsZero() && last.Pending == 0 && !last.Syncing
	})
	if !last.Online {
		t.Errorf("status after auto-sync: %+v", last)
	}
	// A save while online: Nudge syncs it after the debounce.
	a.create(1)
	a.eng.Nudge()
	waitFor(t, "nudged sync", func() bool {
		n, _ := a.store.OutboxLen(context.Background())
		return n == 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b.sync()
	assertConverged(t, h, a, b)
}

func TestCloseStopsRun(t *testing.T) {
	h := newTestHub(t)
	a := newClient(t, h, "a", nil)
	done := make(chan error, 1)
	go func() { done <- a.eng.Run(context.Background()) }()
	waitFor(t, "first probe", func() bool { return h.proxy.Requests("GET", protocol.PathHealth) >= 1 })
	if err := a.eng.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
	if err := a.eng.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := a.eng.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
	if _, err := a.eng.SyncNow(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("SyncNow after Close: %v, want ErrClosed", err)
	}
	if err := a.eng.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestSubscribeLatestValue(t *testing.T) {
	e, err := New(Options{Store: nil})
	if err == nil || e != nil {
		t.Fatal("New without a store succeeded")
	}
	h := newTestHub(t)
	a := newClient(t, h, "a", nil)
	ch, cancel := a.eng.Subscribe()
	// Many updates with nobody reading never block, and the reader sees the
	// latest.
	for i := range 100 {
		a.eng.update(func(s *Status) { s.Done = i })
	}
	if s := <-ch; s.Done != 99 {
		t.Errorf("latest Done = %d, want 99", s.Done)
	}
	cancel()
	cancel()
	if _, ok := <-ch; ok {
		t.Error("channel still open after cancel")
	}
}

func TestRefusedCursorRestartsPull(t *testing.T) {
	h := newTestHub(t)
	a := newClient(t, h, "a", nil)
	b := newClient(t, h, "b", nil)
	a.create(3)
	a.sync()
	// b's cursor is one this hub never issued (say, its data was restored
	// elsewhere): b pulls everything again, once.
	if _, err := b.store.ApplyRemote(context.Background(), nil, "not-a-cursor"); err != nil {
		t.Fatal(err)
	}
	if res := b.sync(); res.Pulled != 3 {
		t.Errorf("pull after a refused cursor: %+v, want 3", res)
	}
	if cur, _ := b.store.PullCursor(context.Background()); cur == "not-a-cursor" || cur == "" {
		t.Errorf("cursor after the pull: %q", cur)
	}
	assertConverged(t, h, a, b)
}

// TestBatchRefusedWhole checks that when the hub refuses a whole push (400
// or 413) because of one revision, the engine isolates that revision, marks
// it rejected with the hub's reason and pushes all the others.
func TestBatchRefusedWhole(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			h := newTestHub(t)
			a := newClient(t, h, "a", func(o *Options) { o.PushBatch = 8 })
			ids := a.create(20)
			culprit := ids[11]
			h.proxy.Add(faultproxy.Rule{Method: http.MethodPost, PathPrefix: protocol.PathPush,
				BodyContains: culprit, Action: faultproxy.Respond, Status: status, Times: -1})
			res := a.sync()
			if res.Pushed != 19 || res.Rejected != 1 {
				t.Errorf("sync: %+v, want 19 pushed and 1 rejected", res)
			}
			rej, err := a.store.Rejected(context.Background())
			if err != nil || len(rej) != 1 || rej[0].Rev.RecordID != culprit || !strings.Contains(rej[0].Rejection, "faultproxy") {
				t.Errorf("rejected: %+v %v", rej, err)
			}
			if n := len(h.revisions(h.tokens["a"])); n != 19 {
				t.Errorf("hub holds %d, want 19", n)
			}
		})
	}
}

func TestCloseCancelsSyncNow(t *testing.T) {
	h := newTestHub(t)
	a := newClient(t, h, "a", nil)
	a.create(2)
	// The push hangs in the proxy until Close cancels it.
	h.proxy.Add(faultproxy.Rule{Method: http.MethodPost, PathPrefix: protocol.PathPush, Action: faultproxy.Delay, Delay: 500 * time.Millisecond})
	done := make(chan error, 1)
	go func() {
		_, err := a.eng.SyncNow(context.Background())
		done <- err
	}()
	waitFor(t, "the push to start", func() bool { return h.proxy.Requests("POST", protocol.PathPush) == 1 })
	if err := a.eng.Close(); err != nil {
		t.Fatal(err)
	}
	// Close has waited for the sync's work; the goroutine may still be on
	// its way to send the result, so allow it a moment. Had Close not
	// cancelled the sync, it would end after the delay with no error.
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("SyncNow after Close: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SyncNow still running 10 s after Close returned")
	}
}

// The time of the last successful sync outlives the engine: a new engine on
// the same store reports it, and so can the printed report.
func TestLastSuccessPersists(t *testing.T) {
	h := newTestHub(t)
	at := time.Date(2026, 11, 26, 15, 4, 5, 0, time.UTC)
	a := newClient(t, h, "a", func(o *Options) { o.Now = func() time.Time { return at } })
	if !a.eng.Status().LastSuccess.IsZero() {
		t.Fatalf("new store reports a last sync: %v", a.eng.Status().LastSuccess)
	}
	a.create(1)
	a.sync()
	b, err := a.store.Setting(context.Background(), SettingLastSuccess)
	if err != nil || string(b) != "2026-11-26T15:04:05Z" {
		t.Fatalf("stored last success = %q, %v", b, err)
	}
	a.close()
	a.open(nil)
	if got := a.eng.Status().LastSuccess; !got.Equal(at) {
		t.Fatalf("reopened engine reports last sync %v, want %v", got, at)
	}
}
