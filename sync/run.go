package sync

import (
	"context"
	"errors"
	"time"
)

// Run watches the hub and syncs automatically until ctx is done or Close is
// called; it then returns nil (ErrRunning or ErrClosed when it cannot start).
//
// Run probes the hub's health every ProbeInterval and syncs when the hub
// becomes reachable, Debounce after the last Nudge, and every SyncInterval
// while online. While the hub is unreachable it only probes: no sync
// attempts and no log lines beyond the change of state. A failed sync is
// retried with backoff (and not before a Retry-After the hub gave); after
// ErrAuth it does not sync again until the stored token changes.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	switch {
	case e.closed:
		e.mu.Unlock()
		return ErrClosed
	case e.running:
		e.mu.Unlock()
		return ErrRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	e.running, e.cancelRun, e.runDone = true, cancel, done
	e.mu.Unlock()
	defer func() {
		cancel()
		e.mu.Lock()
		e.running, e.cancelRun = false, nil
		e.mu.Unlock()
		close(done)
	}()

	l := &loop{e: e}
	probe := time.NewTimer(0)
	defer probe.Stop()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.nudge:
			l.dirty = true
			debounce.Reset(e.o.Debounce)
		case <-debounce.C:
			if l.online {
				l.trySync(ctx)
			}
			probe.Reset(l.nextProbe())
		case <-probe.C:
			l.probe(ctx)
			if ctx.Err() != nil {
				return nil
			}
			probe.Reset(l.nextProbe())
		}
	}
}

// loop is the state of one Run.
type loop struct {
	e           *Engine
	online      bool
	dirty       bool      // a Nudge came since the last successful sync
	needSync    bool      // the last sync failed and should be retried
	failures    int       // consecutive failed syncs
	retryAt     time.Time // not before this after a failure
	lastSuccess time.Time
	authToken   string // the token the hub refused; "" if none
}

// nextProbe is the wait before the next probe: ProbeInterval, or sooner
// when a failed sync is due for another try.
func (l *loop) nextProbe() time.Duration {
	d := l.e.o.ProbeInterval
	if l.needSync && l.online {
		if w := l.retryAt.Sub(l.e.now()); w < d {
			d = max(w, time.Millisecond)
		}
	}
	return d
}

// probe checks the hub's health and syncs when there is a reason to.
func (l *loop) probe(ctx context.Context) {
	e := l.e
	url, token, err := e.config(ctx)
	if err != nil {
		e.update(func(s *Status) { s.Configured, s.Online = false, false })
		l.online = false
		return
	}
	c := e.clientFor(url, token)
	pctx, cancel := context.WithTimeout(ctx, e.o.ProbeTimeout)
	err = c.health(pctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	was := l.online
	l.online = err == nil
	if was != l.online {
		e.log.Info("hub reachability changed", "online", l.online)
	}
	e.update(func(s *Status) { s.Configured, s.Online = true, l.online })
	if !l.online {
		e.refreshCounts(ctx) // saves while offline still show as pending
		return
	}
	if l.authToken != "" {
		if token == l.authToken {
			return // the hub refused this token: wait for a new one
		}
		l.authToken = ""
		l.needSync = true
	}
	switch {
	case !was, l.dirty, l.needSync, e.now().Sub(l.lastSuccess) >= e.o.SyncInterval:
		l.trySync(ctx)
	}
}

// trySync runs one sync unless a backoff or Retry-After forbids it yet.
func (l *loop) trySync(ctx context.Context) {
	e := l.e
	now := e.now()
	e.mu.Lock()
	notBefore := e.notBefore
	e.mu.Unlock()
	if now.Before(notBefore) || (l.needSync && now.Before(l.retryAt)) {
		l.needSync = true
		if notBefore.After(l.retryAt) {
			l.retryAt = notBefore
		}
		return
	}
	_, token, _ := e.config(ctx)
	_, err := e.SyncNow(ctx)
	switch {
	case err == nil:
		l.dirty, l.needSync, l.failures = false, false, 0
		l.lastSuccess = e.now()
	case ctx.Err() != nil:
	case errors.Is(err, ErrAuth):
		l.authToken, l.needSync = token, false
	case errors.Is(err, ErrNotConfigured):
		l.needSync = false
	default:
		if errors.Is(err, ErrUnreachable) {
			l.online = false
		}
		l.failures++
		l.needSync = true
		l.retryAt = e.now().Add(e.policy().backoff(l.failures))
		e.mu.Lock()
		if e.notBefore.After(l.retryAt) {
			l.retryAt = e.notBefore
		}
		e.mu.Unlock()
	}
}

// refreshCounts updates Status.Pending and Status.Rejected from the store.
func (e *Engine) refreshCounts(ctx context.Context) {
	pending, err := e.store.OutboxLen(ctx)
	if err != nil {
		return
	}
	rejected, err := e.store.Rejected(ctx)
	if err != nil {
		return
	}
	e.update(func(s *Status) { s.Pending, s.Rejected = pending, len(rejected) })
}

// loadLastSuccess puts the time of the last successful sync, as an earlier
// run recorded it in the store, into the status.
func (e *Engine) loadLastSuccess(ctx context.Context) {
	b, err := e.store.Setting(ctx, SettingLastSuccess)
	if err != nil {
		return
	}
	t, err := time.Parse(time.RFC3339, string(b))
	if err != nil {
		return
	}
	e.update(func(s *Status) {
		if s.LastSuccess.IsZero() {
			s.LastSuccess = t
		}
	})
}
