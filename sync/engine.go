// Package sync is the client sync engine of CCM Collect: it pushes the local
// outbox to the national hub and pulls the programme's revisions back, over
// API v1 (design.md, "Sync API v1"; wire types in sync/protocol).
//
// The engine never loses, doubles or overwrites an edit:
//
//   - Push sends the outbox in creation order, in gzip-compressed batches
//     bounded by count and bytes. An entry leaves the outbox only when the
//     hub answered applied, duplicate or conflict for it; a rejected entry
//     stays, with the hub's reason, for the user to see. Revisions are
//     identified by their content, so re-sending a batch whose answer was
//     lost only yields "duplicate".
//   - Pull asks for pages after the stored cursor and applies each page to
//     the store together with the page's cursor in one durable step, so an
//     interrupted pull resumes where it stopped and never applies a page
//     twice in a way that matters (applying is idempotent).
//   - After the pull, the programme's published form definitions are
//     fetched (at most once per Options.FormsInterval), added to the store's
//     registry and kept in the store (SettingForms, LoadStoredForms).
//   - Calls are retried with exponential backoff and jitter, honour
//     Retry-After, and time out. A 401 or 403 stops the sync with ErrAuth.
//
// An Engine also watches the hub's health and syncs when it becomes
// reachable, after local saves (debounced, see Nudge) and periodically while
// online. The UI observes it through Status and Subscribe. The package never
// imports Fyne; importers alias it ccmsync.
package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	stdsync "sync"
	"sync/atomic"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/storage"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// Errors callers tell apart.
var (
	// ErrNotConfigured means the store has no hub URL or token yet: run
	// Connect ("ccmcollect hub connect") first.
	ErrNotConfigured = errors.New("not connected to a hub: run hub connect first")
	// ErrAuth means the hub refused the device token (unknown or revoked:
	// 401) or the device's role (403). Retrying does not help; the engine
	// stops auto-syncing until the token changes.
	ErrAuth = errors.New("the hub refused this device's token or role")
	// ErrInsecureURL means a plain http:// URL to a host that is not the
	// loopback interface, without the insecure override.
	ErrInsecureURL = errors.New("refusing plain http:// to a non-loopback host (tokens and personal data would travel unencrypted); use https:// or --insecure")
	// ErrUnreachable matches errors that come from not reaching the hub
	// (refused, cut or timed-out connections).
	ErrUnreachable = errors.New("hub unreachable")
	// ErrProtocol means the hub answered something API v1 does not allow.
	ErrProtocol = errors.New("unexpected answer from the hub")
	// ErrRunning is returned by Run when the engine already runs.
	ErrRunning = errors.New("sync engine already running")
	// ErrClosed is returned by Run and SyncNow after Close.
	ErrClosed = errors.New("sync engine closed")
)

// Store is the part of *storage.Store the engine uses.
type Store interface {
	Identity(ctx context.Context) (storage.Identity, error)
	SetIdentity(ctx context.Context, id storage.Identity) error
	Setting(ctx context.Context, key string) ([]byte, error)
	SetSetting(ctx context.Context, key string, v []byte) error
	PendingOutbox(ctx context.Context, limit, maxBytes int) ([]storage.OutboxEntry, error)
	AckOutbox(ctx context.Context, seqs []uint64) error
	RejectOutbox(ctx context.Context, seq uint64, reason string) error
	Rejected(ctx context.Context) ([]storage.OutboxEntry, error)
	OutboxLen(ctx context.Context) (int, error)
	ApplyRemote(ctx context.Context, revs []*record.Revision, cursor string) (storage.ApplyStats, error)
	PullCursor(ctx context.Context) (string, error)
	// Forms is the registry records are validated against; the engine
	// adds the programme's published forms to it.
	Forms() *forms.Registry
}

var _ Store = (*storage.Store)(nil)

// Options configure an Engine. Zero durations take the defaults noted.
type Options struct {
	Store  Store
	Now    func() time.Time // nil = time.Now
	Logger *slog.Logger     // nil = discard; never receives record contents or tokens

	// ProbeInterval is how often Run checks the hub's health (30s).
	ProbeInterval time.Duration
	// ProbeTimeout bounds one health check (5s).
	ProbeTimeout time.Duration
	// Debounce is how long Run waits after the last Nudge before syncing (3s).
	Debounce time.Duration
	// SyncInterval is how often Run syncs while online without local saves,
	// to bring other devices' edits (5m).
	SyncInterval time.Duration
	// HTTPTimeout bounds every single HTTP attempt (60s).
	HTTPTimeout time.Duration

	// Attempts is how many times one call is tried before the sync fails (5).
	Attempts int
	// BackoffBase and BackoffMax shape the exponential backoff between
	// attempts (500ms, 30s); Run also waits this way between failed syncs.
	BackoffBase, BackoffMax time.Duration
	// MaxRetryWait is the longest Retry-After a sync waits for; a longer one
	// fails the sync and Run tries again once it has passed (1m).
	MaxRetryWait time.Duration
	// Rand returns a float in [0,1) for jitter (math/rand/v2).
	Rand func() float64

	// PushBatch and PushBytes bound one push (protocol.MaxPushRevisions and
	// protocol.MaxPushBytes less a margin of 512 KiB).
	PushBatch, PushBytes int
	// PullLimit is the page size asked for (2000, at most
	// protocol.MaxPullLimit).
	PullLimit int
	// FormsInterval is how often a sync also fetches the programme's form
	// definitions (1h); the first sync of an engine, and the first after
	// the hub or token changed, always fetches them.
	FormsInterval time.Duration
}

// Settings keys the engine keeps in the (encrypted) store.
const (
	SettingHubURL   = "sync.hub_url"
	SettingHubToken = "sync.hub_token"
	// SettingLastSuccess holds the end of the last successful sync (RFC 3339,
	// UTC), so reports and a restarted app can say how current the data is.
	SettingLastSuccess = "sync.last_success"
)

// Phases of Status.Phase.
const (
	PhaseIdle = "idle"
	PhasePush = "push"
	PhasePull = "pull"
)

// Status is what the UI shows about sync. Done and Total count revisions of
// the current phase; Total is 0 while pulling (the hub does not say how many
// remain).
type Status struct {
	Configured  bool      `json:"configured"`
	Online      bool      `json:"online"`
	Syncing     bool      `json:"syncing"`
	Phase       string    `json:"phase"`
	Done        int       `json:"done"`
	Total       int       `json:"total"`
	LastSuccess time.Time `json:"last_success"`
	LastAttempt time.Time `json:"last_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	Pending     int       `json:"pending"`  // outbox entries waiting for the hub
	Rejected    int       `json:"rejected"` // outbox entries the hub rejected
}

// Result counts what one sync did.
type Result struct {
	// Pushed counts revisions the hub stored (applied or conflict).
	Pushed int `json:"pushed"`
	// Duplicates counts pushed revisions the hub already had.
	Duplicates int `json:"duplicates"`
	// Pulled counts pulled revisions that were new to the local store.
	Pulled int `json:"pulled"`
	// Rejected counts revisions the hub rejected in this sync.
	Rejected int `json:"rejected"`
	// Conflicts counts revisions, pushed or pulled, that left their record
	// with several live leaves.
	Conflicts int `json:"conflicts"`
	// Bytes is the traffic on the wire, both ways, headers included.
	Bytes int64 `json:"bytes"`
}

// Engine syncs one local store with its hub. Its methods are safe for
// concurrent use; syncs never overlap.
type Engine struct {
	o     Options
	store Store
	log   *slog.Logger
	now   func() time.Time

	syncMu stdsync.Mutex // held for a whole sync
	wire   atomic.Int64

	mu        stdsync.Mutex
	status    Status
	subs      map[int]chan Status
	nextSub   int
	client    *hubClient // cached for (url, token)
	clientKey string
	running   bool
	closed    bool
	cancelRun context.CancelFunc
	// cancelSync cancels the sync in progress, if any (Close).
	cancelSync context.CancelFunc
	runDone    chan struct{}
	notBefore  time.Time // from a long Retry-After

	nudge chan struct{}

	// formsAt and formsKey say when, and for which hub and token, the form
	// definitions were last fetched; guarded by syncMu.
	formsAt  time.Time
	formsKey string

	// sleep replaces the waits between retries in tests; nil = timers.
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns an engine over o.Store. The hub URL and token are read from
// the store's settings at every sync, so Connect may be called later.
func New(o Options) (*Engine, error) {
	if o.Store == nil {
		return nil, errors.New("sync: Options.Store is nil")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ProbeInterval, 30*time.Second)
	def(&o.ProbeTimeout, 5*time.Second)
	def(&o.Debounce, 3*time.Second)
	def(&o.SyncInterval, 5*time.Minute)
	def(&o.HTTPTimeout, 60*time.Second)
	def(&o.BackoffBase, 500*time.Millisecond)
	def(&o.BackoffMax, 30*time.Second)
	def(&o.MaxRetryWait, time.Minute)
	def(&o.FormsInterval, time.Hour)
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.PushBatch <= 0 || o.PushBatch > protocol.MaxPushRevisions {
		o.PushBatch = protocol.MaxPushRevisions
	}
	if o.PushBytes <= 0 || o.PushBytes > protocol.MaxPushBytes-pushMargin {
		o.PushBytes = protocol.MaxPushBytes - pushMargin
	}
	if o.PullLimit <= 0 {
		o.PullLimit = 2000
	}
	o.PullLimit = min(o.PullLimit, protocol.MaxPullLimit)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = jitter
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		o:     o,
		store: o.Store,
		log:   o.Logger,
		now:   o.Now,
		subs:  make(map[int]chan Status),
		nudge: make(chan struct{}, 1),
	}
	e.status.Phase = PhaseIdle
	// A quick read of the local store, so the status says how current the
	// data is from the start, before any sync of this run.
	e.loadLastSuccess(context.Background())
	return e, nil
}

// policy returns the retry policy of sync calls.
func (e *Engine) policy() retryPolicy {
	return retryPolicy{
		attempts: e.o.Attempts,
		base:     e.o.BackoffBase,
		max:      e.o.BackoffMax,
		maxWait:  e.o.MaxRetryWait,
		timeout:  e.o.HTTPTimeout,
		rnd:      e.o.Rand,
		sleep:    e.sleep,
	}
}

// config reads the hub URL and token from the store.
func (e *Engine) config(ctx context.Context) (url, token string, err error) {
	u, err := e.store.Setting(ctx, SettingHubURL)
	if errors.Is(err, storage.ErrNotFound) {
		return "", "", ErrNotConfigured
	}
	if err != nil {
		return "", "", fmt.Errorf("reading hub URL: %w", err)
	}
	t, err := e.store.Setting(ctx, SettingHubToken)
	if errors.Is(err, storage.ErrNotFound) {
		return "", "", ErrNotConfigured
	}
	if err != nil {
		return "", "", fmt.Errorf("reading hub token: %w", err)
	}
	if len(u) == 0 || len(t) == 0 {
		return "", "", ErrNotConfigured
	}
	return string(u), string(t), nil
}

// clientFor returns a client for url and token, reusing the last one (and
// its connections) when they did not change.
func (e *Engine) clientFor(url, token string) *hubClient {
	key := url + "\x00" + token
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.client != nil && e.clientKey == key {
		return e.client
	}
	if e.client != nil {
		e.client.close()
	}
	e.client = newHubClient(url, token, e.policy(), e.log, &e.wire)
	e.clientKey = key
	return e.client
}

// SyncNow pushes the outbox, then pulls, and returns what it did. It waits
// for a sync already in progress to finish first. On error, the Result
// still counts what was done before the error: everything counted is
// durable on both sides.
func (e *Engine) SyncNow(ctx context.Context) (Result, error) {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.mu.Lock()
	closed := e.closed
	e.cancelSync = cancel
	e.mu.Unlock()
	if closed {
		return Result{}, ErrClosed
	}
	startBytes := e.wire.Load()
	var res Result
	err := e.sync(ctx, &res)
	res.Bytes = e.wire.Load() - startBytes
	e.finish(ctx, err)
	return res, err
}

func (e *Engine) sync(ctx context.Context, res *Result) error {
	url, token, err := e.config(ctx)
	if err != nil {
		e.update(func(s *Status) { s.Configured = false })
		return err
	}
	id, err := e.store.Identity(ctx)
	if err != nil {
		return fmt.Errorf("reading device identity: %w", err)
	}
	if id.Programme == "" {
		return fmt.Errorf("%w: the store has no programme", ErrNotConfigured)
	}
	c := e.clientFor(url, token)
	e.update(func(s *Status) {
		s.Configured, s.Syncing, s.LastAttempt = true, true, e.now()
		s.Phase, s.Done, s.Total = PhasePush, 0, 0
	})
	if id.Role != protocol.RoleViewer {
		if err := e.push(ctx, c, id, res); err != nil {
			return fmt.Errorf("push: %w", err)
		}
	}
	e.update(func(s *Status) { s.Phase, s.Done, s.Total = PhasePull, 0, 0 })
	if err := e.pull(ctx, c, id, res); err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	if key := url + "\x00" + token; key != e.formsKey || !e.now().Before(e.formsAt.Add(e.o.FormsInterval)) {
		if err := e.fetchForms(ctx, c); err != nil {
			return fmt.Errorf("forms: %w", err)
		}
		e.formsAt, e.formsKey = e.now(), key
	}
	return nil
}

// finish records the outcome of a sync in the status.
func (e *Engine) finish(ctx context.Context, err error) {
	pending, perr := e.store.OutboxLen(ctx)
	rejected, rerr := e.store.Rejected(ctx)
	e.update(func(s *Status) {
		s.Syncing, s.Phase, s.Done, s.Total = false, PhaseIdle, 0, 0
		if perr == nil {
			s.Pending = pending
		}
		if rerr == nil {
			s.Rejected = len(rejected)
		}
		switch {
		case err == nil:
			s.Online, s.LastSuccess, s.LastError = true, e.now(), ""
		case errors.Is(err, ErrNotConfigured):
			s.Configured, s.LastError = false, err.Error()
		default:
			s.LastError = err.Error()
			if errors.Is(err, ErrUnreachable) {
				s.Online = false
			}
		}
	})
	if err == nil {
		at := e.Status().LastSuccess.UTC().Format(time.RFC3339)
		if serr := e.store.SetSetting(ctx, SettingLastSuccess, []byte(at)); serr != nil {
			e.log.Warn("could not record the time of the last sync", "err", serr)
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		e.log.Info("sync failed", "err", err)
	}
	var he *HubError
	if errors.As(err, &he) && he.RetryAfter > 0 {
		e.mu.Lock()
		e.notBefore = e.now().Add(he.RetryAfter)
		e.mu.Unlock()
	}
}

// Status returns the current status.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status
}

// Subscribe returns a channel that always holds the latest status (older
// unread values are replaced, so the engine never blocks on a slow reader)
// and a function that cancels the subscription and closes the channel.
func (e *Engine) Subscribe() (<-chan Status, func()) {
	ch := make(chan Status, 1)
	e.mu.Lock()
	id := e.nextSub
	e.nextSub++
	e.subs[id] = ch
	ch <- e.status
	e.mu.Unlock()
	var once stdsync.Once
	return ch, func() {
		once.Do(func() {
			e.mu.Lock()
			delete(e.subs, id)
			close(ch)
			e.mu.Unlock()
		})
	}
}

// update changes the status under the lock and publishes it.
func (e *Engine) update(f func(*Status)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.status)
	for _, ch := range e.subs {
		select {
		case <-ch:
		default:
		}
		select {
		case ch <- e.status:
		default:
		}
	}
}

// Nudge tells the engine that a local save happened: Run syncs once no
// further Nudge came for Options.Debounce and the hub is reachable. It never
// blocks.
func (e *Engine) Nudge() {
	select {
	case e.nudge <- struct{}{}:
	default:
	}
}

// Close stops Run, cancels a sync in progress (also one started with
// SyncNow), waits for both to return and drops idle connections; the store
// may be closed afterwards. What a cancelled sync completed stays durable.
// Close is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.closed = true
	cancel, done, cancelSync := e.cancelRun, e.runDone, e.cancelSync
	e.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	if cancelSync != nil {
		cancelSync()
	}
	e.syncMu.Lock() // wait for a SyncNow in progress to return
	defer e.syncMu.Unlock()
	e.mu.Lock()
	if e.client != nil {
		e.client.close()
	}
	e.mu.Unlock()
	return nil
}
