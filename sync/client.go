package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// maxResponseBytes bounds how much of one hub answer the client reads. A pull
// page of protocol.MaxPullLimit large revisions stays far below it.
const maxResponseBytes = 512 << 20

// HubError is a 4xx or 5xx answer of the hub that the client did not retry
// (or stopped retrying). Its message is the hub's, which never holds tokens.
type HubError struct {
	Status  int    // HTTP status
	Code    string // protocol.Code*, or "" when the body was not an API error
	Message string
	// RetryAfter is the wait the hub asked for (429 and 503), 0 if none.
	RetryAfter time.Duration
}

func (e *HubError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if errors.Is(e, ErrAuth) {
		return fmt.Sprintf("%v (%d %s: %s)", ErrAuth, e.Status, e.Code, msg)
	}
	if e.Code != "" {
		return fmt.Sprintf("hub answered %d %s: %s", e.Status, e.Code, msg)
	}
	return fmt.Sprintf("hub answered %d: %s", e.Status, msg)
}

// Is makes errors.Is(err, ErrAuth) true for 401 and 403 answers.
func (e *HubError) Is(target error) bool {
	return target == ErrAuth && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// retryable reports whether a later attempt of the same request may succeed.
func (e *HubError) retryable() bool {
	switch e.Status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// netError marks a failure to reach the hub or to read its whole answer:
// a refused or cut connection, a timeout, a truncated body.
type netError struct{ err error }

func (e *netError) Error() string { return "hub unreachable: " + e.err.Error() }
func (e *netError) Unwrap() error { return e.err }
func (e *netError) Is(target error) bool {
	return target == ErrUnreachable
}

// retryPolicy is how a hubClient retries one call.
type retryPolicy struct {
	attempts  int           // total attempts of one call, at least 1
	base, max time.Duration // exponential backoff from base, capped at max
	maxWait   time.Duration // longest Retry-After the client waits for in a call
	timeout   time.Duration // per attempt
	rnd       func() float64
	// sleep waits d or until ctx is done; nil waits on a timer. Tests
	// replace it to record waits without spending them.
	sleep func(ctx context.Context, d time.Duration) error
}

// backoff returns the wait before attempt n+1 (n counts from 1): exponential
// with "equal jitter", so waits spread out but never collapse to zero.
func (p retryPolicy) backoff(n int) time.Duration {
	d := p.base
	for i := 1; i < n && d < p.max; i++ {
		d *= 2
	}
	d = min(d, p.max)
	r := 0.5
	if p.rnd != nil {
		r = p.rnd()
	}
	return d/2 + time.Duration(float64(d/2)*r)
}

// hubClient talks API v1 to one hub with one device token. It is safe for
// concurrent use.
type hubClient struct {
	base   string // URL without a trailing slash
	token  string
	rc     *resty.Client
	policy retryPolicy
	log    *slog.Logger
	wire   *atomic.Int64 // bytes read and written on the hub's connections
}

// newHubClient returns a client for base, counting wire bytes into wire.
func newHubClient(base, token string, p retryPolicy, log *slog.Logger, wire *atomic.Int64) *hubClient {
	if wire == nil {
		wire = new(atomic.Int64)
	}
	dialer := &net.Dialer{Timeout: min(p.timeout, 15*time.Second), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, n: wire}, nil
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       60 * time.Second,
		TLSHandshakeTimeout:   min(p.timeout, 15*time.Second),
		ResponseHeaderTimeout: p.timeout,
	}
	rc := resty.NewWithClient(&http.Client{Transport: tr}).
		SetLogger(discardLogger{}).
		SetDisableWarn(true).
		SetRedirectPolicy(resty.NoRedirectPolicy()).
		SetRetryCount(0).
		SetHeader("User-Agent", "ccmcollect-sync/1")
	return &hubClient{base: strings.TrimRight(base, "/"), token: token, rc: rc, policy: p, log: log, wire: wire}
}

// close drops idle connections.
func (c *hubClient) close() { c.rc.GetClient().CloseIdleConnections() }

// health asks whether the hub answers, once, without retries.
func (c *hubClient) health(ctx context.Context) error {
	var h protocol.Health
	p := c.policy
	p.attempts = 1
	if err := c.callWith(ctx, p, http.MethodGet, protocol.PathHealth, nil, nil, false, &h); err != nil {
		return err
	}
	if h.Status != "ok" {
		return fmt.Errorf("%w: health status %q", ErrProtocol, h.Status)
	}
	return nil
}

// whoami returns the device the token belongs to.
func (c *hubClient) whoami(ctx context.Context) (protocol.Whoami, error) {
	var w protocol.Whoami
	err := c.call(ctx, http.MethodGet, protocol.PathWhoami, nil, nil, true, &w)
	return w, err
}

// push sends one gzip-compressed push body holding n revisions.
func (c *hubClient) push(ctx context.Context, gz []byte, n int) (protocol.PushResponse, error) {
	var resp protocol.PushResponse
	if err := c.call(ctx, http.MethodPost, protocol.PathPush, nil, gz, true, &resp); err != nil {
		return resp, err
	}
	if len(resp.Results) != n {
		return resp, fmt.Errorf("%w: %d results for %d revisions", ErrProtocol, len(resp.Results), n)
	}
	return resp, nil
}

// pull fetches one page after since.
func (c *hubClient) pull(ctx context.Context, since string, limit int) (protocol.PullResponse, error) {
	var resp protocol.PullResponse
	q := url.Values{"since": {since}, "limit": {strconv.Itoa(limit)}}
	err := c.call(ctx, http.MethodGet, protocol.PathPull, q, nil, true, &resp)
	return resp, err
}

func (c *hubClient) call(ctx context.Context, method, path string, q url.Values, gzBody []byte, auth bool, out any) error {
	return c.callWith(ctx, c.policy, method, path, q, gzBody, auth, out)
}

// callWith performs one API call with retries: network failures, timeouts,
// 408, 429 and 5xx answers are retried with backoff (or after the
// Retry-After the hub gave, when it is not longer than p.maxWait); 401 and
// 403 stop at once with an error matching ErrAuth; other answers are
// returned as *HubError. A re-sent push is safe: revisions are identified by
// their content, so the hub answers "duplicate" for what it already has.
func (c *hubClient) callWith(ctx context.Context, p retryPolicy, method, path string, q url.Values, gzBody []byte, auth bool, out any) error {
	var last error
	for attempt := 1; ; attempt++ {
		err := c.once(ctx, p.timeout, method, path, q, gzBody, auth, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		last = err
		var he *HubError
		isHub := errors.As(err, &he)
		if isHub && !he.retryable() {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if attempt >= p.attempts {
			break
		}
		wait := p.backoff(attempt)
		if isHub && he.RetryAfter > 0 {
			if he.RetryAfter > p.maxWait {
				break // the caller schedules the next sync after it
			}
			wait = he.RetryAfter
		}
		c.log.Debug("hub call failed, retrying", "path", path, "attempt", attempt, "wait", wait, "err", err)
		sleep := p.sleep
		if sleep == nil {
			sleep = sleepCtx
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return fmt.Errorf("%s %s: %w", method, path, last)
}

// once performs one attempt and decodes a 2xx JSON answer into out.
func (c *hubClient) once(ctx context.Context, timeout time.Duration, method, path string, q url.Values, gzBody []byte, auth bool, out any) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req := c.rc.R().SetContext(ctx).SetDoNotParseResponse(true).SetHeader("Accept", "application/json")
	if auth {
		req.SetAuthToken(c.token)
	}
	if q != nil {
		req.SetQueryParamsFromValues(q)
	}
	if gzBody != nil {
		req.SetHeader("Content-Type", "application/json").
			SetHeader("Content-Encoding", "gzip").
			SetBody(gzBody)
	}
	resp, err := req.Execute(method, c.base+path)
	if err != nil {
		return &netError{err: scrubURLError(err)}
	}
	raw := resp.RawResponse
	defer raw.Body.Close()
	body := io.LimitReader(raw.Body, maxResponseBytes)
	if raw.StatusCode/100 != 2 {
		return readHubError(raw, body)
	}
	dec := json.NewDecoder(body)
	if err := dec.Decode(out); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || isNetErr(err) {
			return &netError{err: fmt.Errorf("reading answer: %w", err)}
		}
		return fmt.Errorf("%w: decoding answer of %s: %v", ErrProtocol, path, err)
	}
	// Drain the rest so the connection can be reused, and notice a cut.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return &netError{err: fmt.Errorf("reading answer: %w", err)}
	}
	return nil
}

// readHubError turns a non-2xx answer into a *HubError (or a netError when
// the body could not be read).
func readHubError(raw *http.Response, body io.Reader) error {
	he := &HubError{Status: raw.StatusCode, RetryAfter: parseRetryAfter(raw.Header.Get("Retry-After"), time.Now())}
	b, err := io.ReadAll(io.LimitReader(body, 64<<10))
	if err != nil {
		return &netError{err: fmt.Errorf("reading %d answer: %w", raw.StatusCode, err)}
	}
	var eb protocol.ErrorBody
	if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
		he.Code, he.Message = eb.Error.Code, eb.Error.Message
	} else {
		he.Message = strings.TrimSpace(string(bytes.ToValidUTF8(b[:min(len(b), 200)], nil)))
	}
	return he
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

// scrubURLError drops the query string from a *url.Error so error strings
// stay short; URLs never hold tokens, which travel in a header.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

// countingConn counts every byte read and written into n.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	k, err := c.Conn.Read(p)
	c.n.Add(int64(k))
	return k, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	k, err := c.Conn.Write(p)
	c.n.Add(int64(k))
	return k, err
}

// discardLogger silences resty, whose messages may quote URLs and headers.
type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}

// sleepCtx waits d, or less when ctx is done first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// jitter returns a random float in [0, 1).
func jitter() float64 { return rand.Float64() }
