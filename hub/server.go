package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// PathMetrics is where the Prometheus metrics are served (no token needed:
// they hold counts only, never record data).
const PathMetrics = "/metrics"

// Config configures a Server. Only Store is required.
type Config struct {
	Store  Store
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
	// MaxConcurrent caps the requests served at once (default 64); a
	// request that finds no slot within QueueWait (default 5s) gets 503.
	MaxConcurrent int
	QueueWait     time.Duration
	// AuthFailBurst failed authentications are allowed per address
	// (default 10), then one more every AuthFailEvery (default 6s); beyond
	// that the address gets 429 with Retry-After.
	AuthFailBurst int
	AuthFailEvery time.Duration
	// MaxPullBytes bounds the revisions of one pull page in bytes
	// (default protocol.MaxPushBytes); a page holds at least one revision.
	MaxPullBytes int
}

// Server serves API v1. Create it with New; it is safe for concurrent use.
type Server struct {
	store   Store
	log     *slog.Logger
	now     func() time.Time
	cat     *catalog
	met     *metrics
	limiter *failLimiter
	slots   chan struct{}
	wait    time.Duration
	maxPull int
	mux     *http.ServeMux
	routes  []Route

	// drainMu guards draining and orders inFlight.Add before Drain's Wait.
	drainMu  sync.Mutex
	draining bool
	inFlight sync.WaitGroup
}

// Route is one method and path the server answers.
type Route struct{ Method, Path string }

type ctxKey struct{}

// reqInfo collects what the request log line reports beyond method, path
// and status: the device and, for pushes, the count of each outcome.
type reqInfo struct {
	device string
	attrs  []slog.Attr
}

func info(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// New returns a server over cfg.Store.
func New(cfg Config) *Server {
	s := &Server{
		store:   cfg.Store,
		log:     cfg.Logger,
		now:     cfg.Now,
		wait:    cfg.QueueWait,
		maxPull: cfg.MaxPullBytes,
		met:     newMetrics(),
		mux:     http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxPull <= 0 {
		s.maxPull = protocol.MaxPushBytes
	}
	if s.wait <= 0 {
		s.wait = 5 * time.Second
	}
	n := cfg.MaxConcurrent
	if n <= 0 {
		n = 64
	}
	s.slots = make(chan struct{}, n)
	burst, every := cfg.AuthFailBurst, cfg.AuthFailEvery
	if burst <= 0 {
		burst = 10
	}
	if every <= 0 {
		every = 6 * time.Second
	}
	s.limiter = newFailLimiter(burst, every, s.now)
	s.cat = newCatalog(cfg.Store, s.log)

	s.handle("GET", protocol.PathHealth, false, s.health)
	s.handle("GET", protocol.PathWhoami, true, s.whoami)
	s.handle("GET", protocol.PathForms, true, s.forms)
	s.handle("POST", protocol.PathPush, true, s.push)
	s.handle("GET", protocol.PathPull, true, s.pull)
	s.routes = append(s.routes, Route{"GET", PathMetrics})
	metricsHandler := promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{})
	s.mux.Handle("GET "+PathMetrics, metricsHandler)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.observe(w, r, "other", func(w http.ResponseWriter, r *http.Request) {
			for _, rt := range s.routes {
				if rt.Path == r.URL.Path {
					w.Header().Set("Allow", rt.Method)
					writeError(w, r, http.StatusMethodNotAllowed, protocol.CodeBadRequest,
						fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
					return
				}
			}
			writeError(w, r, http.StatusNotFound, protocol.CodeNotFound, "no such path: "+r.URL.Path)
		})
	})
	return s
}

// Routes returns every method and path the server answers.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// Handler returns the HTTP handler of the API and /metrics. Once Drain has
// been called it answers every new request 503.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.drainMu.Lock()
	if s.draining {
		s.drainMu.Unlock()
		w.Header().Set("Retry-After", "1")
		writeError(w, r, http.StatusServiceUnavailable, protocol.CodeUnavailable, "the hub is shutting down; try again")
		return
	}
	s.inFlight.Add(1)
	s.drainMu.Unlock()
	defer s.inFlight.Done()
	s.mux.ServeHTTP(w, r)
}

// Drain makes the handler refuse new requests and waits until every
// request it has started has returned, so that the store may be closed.
// Callers cut requests short first (http.Server.Close cancels their
// contexts and closes their connections) if they must not wait long.
func (s *Server) Drain() {
	s.drainMu.Lock()
	s.draining = true
	s.drainMu.Unlock()
	s.inFlight.Wait()
}

// handle registers h for method and path behind the common middleware:
// metrics, logging, the concurrency cap and, when auth is set, the token.
func (s *Server) handle(method, path string, auth bool, h func(w http.ResponseWriter, r *http.Request, d *Device)) {
	s.routes = append(s.routes, Route{method, path})
	s.mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		s.observe(w, r, path, func(w http.ResponseWriter, r *http.Request) {
			if !auth {
				h(w, r, nil)
				return
			}
			if !s.acquire(w, r) {
				return
			}
			defer func() { <-s.slots }()
			d, ok := s.authenticate(w, r)
			if !ok {
				return
			}
			h(w, r, d)
		})
	})
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// observe runs h, then counts and logs the request. Logs hold the method,
// path, status, duration and device id: never a token or record data.
func (s *Server) observe(w http.ResponseWriter, r *http.Request, route string, h http.HandlerFunc) {
	start := time.Now()
	s.met.inFlight.Inc()
	defer s.met.inFlight.Dec()
	sw := &statusWriter{ResponseWriter: w}
	ri := new(reqInfo)
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))
	h(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	el := time.Since(start)
	s.met.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
	s.met.latency.WithLabelValues(route).Observe(el.Seconds())
	level := slog.LevelInfo
	if sw.status >= 500 {
		level = slog.LevelError
	}
	attrs := append([]slog.Attr{
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", sw.status), slog.Duration("duration", el),
		slog.String("device", ri.device), slog.String("addr", clientAddr(r)),
	}, ri.attrs...)
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// acquire takes a request slot, or answers 503 and reports false.
func (s *Server) acquire(w http.ResponseWriter, r *http.Request) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
	case <-r.Context().Done():
	}
	w.Header().Set("Retry-After", "1")
	writeError(w, r, http.StatusServiceUnavailable, protocol.CodeUnavailable, "the hub is busy; try again")
	return false
}

// authenticate finds the device of the request's token, or answers 401 (or
// 429 for an address that failed too often) and reports false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*Device, bool) {
	addr := clientAddr(r)
	if wait, blocked := s.limiter.blocked(addr); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		writeError(w, r, http.StatusTooManyRequests, protocol.CodeTooManyRequests,
			"too many failed authentications from this address")
		return nil, false
	}
	tok := bearer(r)
	if tok == "" {
		s.met.authFails.Inc()
		writeError(w, r, http.StatusUnauthorized, protocol.CodeUnauthorized, "missing bearer token")
		return nil, false
	}
	d, err := s.store.DeviceByToken(r.Context(), HashToken(tok))
	switch {
	case errors.Is(err, ErrNotFound):
		s.fail(w, r, addr, "unknown token")
		return nil, false
	case err != nil:
		s.internal(w, r, "look up token", err)
		return nil, false
	case d.Revoked():
		s.fail(w, r, addr, "device revoked")
		return nil, false
	}
	info(r).device = d.ID
	return &d, true
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, addr, msg string) {
	s.met.authFails.Inc()
	s.limiter.fail(addr)
	writeError(w, r, http.StatusUnauthorized, protocol.CodeUnauthorized, msg)
}

func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.ErrorContext(r.Context(), "internal error", slog.String("op", what), slog.String("error", err.Error()))
	writeError(w, r, http.StatusInternalServerError, protocol.CodeInternal, "internal error; try again later")
}

// writeError answers with status and a protocol.ErrorBody.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	writeJSON(w, r, status, protocol.ErrorBody{Error: protocol.ErrorDetail{Code: code, Message: msg}})
}

// writeJSON answers with status and v as JSON, gzipped when the client
// accepts it.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"cannot encode the answer"}}`)
	}
	writeBody(w, r, status, b)
}

var gzipPool = sync.Pool{New: func() any {
	z, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return z
}}

// gzipMin is the body size below which compressing is not worth it.
const gzipMin = 1024

// acceptsGzip reports whether the request's Accept-Encoding allows gzip: a
// "gzip" (or "x-gzip") entry with a q-value above 0, or failing that a "*"
// entry with one. A q-value that does not parse counts as 0.
func acceptsGzip(r *http.Request) bool {
	star := false
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(part, ";")
		enc = strings.ToLower(strings.TrimSpace(enc))
		if enc != "gzip" && enc != "x-gzip" && enc != "*" {
			continue
		}
		ok := qPositive(params)
		if enc != "*" {
			return ok
		}
		star = ok
	}
	return star
}

// qPositive reports whether the q parameter among params (";"-separated)
// is above 0; a missing q is 1.
func qPositive(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil && q > 0
	}
	return true
}

func writeBody(w http.ResponseWriter, r *http.Request, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Encoding")
	if len(b) >= gzipMin && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		w.WriteHeader(status)
		z := gzipPool.Get().(*gzip.Writer)
		z.Reset(w)
		z.Write(b)
		z.Close()
		gzipPool.Put(z)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request, _ *Device) {
	writeJSON(w, r, http.StatusOK, protocol.Health{Status: "ok"})
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, d *Device) {
	writeJSON(w, r, http.StatusOK, protocol.Whoami{DeviceID: d.ID, Name: d.Name, Programme: d.Programme, Role: d.Role})
}

func (s *Server) forms(w http.ResponseWriter, r *http.Request, d *Device) {
	defs, err := s.cat.definitions(r.Context(), d.Programme)
	if err != nil {
		s.internal(w, r, "list forms", err)
		return
	}
	writeJSON(w, r, http.StatusOK, struct {
		Forms []json.RawMessage `json:"forms"`
	}{defs})
}

// Errors of reading a push that callers of DecodePush tell apart: the hub
// answers ErrMalformed with 400 and ErrTooLarge with 413.
var (
	// ErrMalformed reports a push body that is not a valid PushRequest.
	ErrMalformed = errors.New("malformed push")
	// ErrTooLarge reports a push over protocol.MaxPushBytes or
	// protocol.MaxPushRevisions.
	ErrTooLarge = errors.New("push too large")
)

// readPush reads a push body (gzip or not) within the limits.
func readPush(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, protocol.MaxPushBytes)
	var src io.Reader = body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		z, err := gzip.NewReader(body)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip body: %v", ErrMalformed, err)
		}
		defer z.Close()
		src = z
	default:
		return nil, fmt.Errorf("%w: unsupported Content-Encoding %q", ErrMalformed, enc)
	}
	b, err := io.ReadAll(io.LimitReader(src, protocol.MaxPushBytes+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, protocol.MaxPushBytes)
	case err != nil:
		return nil, fmt.Errorf("%w: reading body: %v", ErrMalformed, err)
	case len(b) > protocol.MaxPushBytes:
		return nil, fmt.Errorf("%w: body over %d bytes once decompressed", ErrTooLarge, protocol.MaxPushBytes)
	}
	return b, nil
}

// DecodePush decodes a push body. Every revision it returns has non-nil
// Parents and Data. It fails with an error wrapping ErrMalformed for
// malformed JSON, wrong types or a missing or null revision, and ErrTooLarge beyond protocol.MaxPushRevisions. (One
// json.Unmarshal of the whole body costs a third of splitting it and
// decoding revisions in parallel.)
func DecodePush(b []byte) ([]*record.Revision, error) {
	var req struct {
		Revisions *[]*record.Revision `json:"revisions"`
	}
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if req.Revisions == nil {
		return nil, fmt.Errorf(`%w: no "revisions" array`, ErrMalformed)
	}
	revs := *req.Revisions
	if len(revs) > protocol.MaxPushRevisions {
		return nil, fmt.Errorf("%w: %d revisions, at most %d", ErrTooLarge, len(revs), protocol.MaxPushRevisions)
	}
	for i, r := range revs {
		if r == nil {
			return nil, fmt.Errorf("%w: revision %d is null", ErrMalformed, i)
		}
		// A missing or null "parents" or "data" is [] or {}: the rev was
		// computed that way, and pull serves arrays and objects
		// (openapi.json), never null.
		if r.Parents == nil {
			r.Parents = []string{}
		}
		if r.Data == nil {
			r.Data = map[string]any{}
		}
	}
	return revs, nil
}

// clockSkew widens "today" for validation: "today" is the date of the
// hub's UTC time plus clockSkew, whatever the hub's time zone, so a laptop
// in any zone (UTC+14 at most) is never ahead of it.
const clockSkew = 14 * time.Hour

// check checks r on its own for a push by d: well formed, rev matching
// content, d's programme, a known form version and valid data. It returns
// nil if r may go to the store.
func check(ctx context.Context, l *lookup, d *Device, r *record.Revision, now time.Time) error {
	if err := r.Verify(); err != nil {
		return err
	}
	if id, err := uuid.Parse(r.RecordID); err != nil || id.String() != r.RecordID {
		return fmt.Errorf("%w: record_id %q is not a UUID in canonical form", record.ErrBadRevision, r.RecordID)
	}
	if r.Programme != d.Programme {
		return fmt.Errorf("programme %q is not this device's (%s)", r.Programme, d.Programme)
	}
	f, err := l.form(ctx, r.FormID, r.FormVersion)
	if err != nil {
		return err
	}
	// Calculated and note fields are computed or shown, never sent
	// (design.md): a value for one is a client bug or a forgery, and
	// storing it would keep a value the form did not compute.
	var computed []string
	for k := range r.Data {
		if fd, ok := f.Field(k); ok && (fd.Type == forms.TypeCalculated || fd.Type == forms.TypeNote) {
			computed = append(computed, k)
		}
	}
	if len(computed) > 0 {
		slices.Sort(computed)
		return fmt.Errorf("data holds %s: calculated and note fields are not sent", strings.Join(computed, ", "))
	}
	if err := f.Validate(r.Data, now.UTC().Add(clockSkew)); err != nil {
		return err
	}
	return nil
}

func (s *Server) push(w http.ResponseWriter, r *http.Request, d *Device) {
	if d.Role != protocol.RoleCollector {
		writeError(w, r, http.StatusForbidden, protocol.CodeForbidden, "role "+d.Role+" may not push")
		return
	}
	body, err := readPush(w, r)
	if err == nil {
		var revs []*record.Revision
		revs, err = DecodePush(body)
		if err == nil {
			s.apply(w, r, d, revs)
			return
		}
	}
	if errors.Is(err, ErrTooLarge) {
		writeError(w, r, http.StatusRequestEntityTooLarge, protocol.CodeTooLarge, err.Error())
		return
	}
	writeError(w, r, http.StatusBadRequest, protocol.CodeBadRequest, err.Error())
}

// apply checks revs, hands the good ones to the store and answers.
func (s *Server) apply(w http.ResponseWriter, r *http.Request, d *Device, revs []*record.Revision) {
	ctx := r.Context()
	now := s.now()
	results := make([]protocol.PushResult, len(revs))
	errs := make([]error, len(revs))

	l, err := s.cat.lookup(ctx, d.Programme)
	if err != nil {
		s.internal(w, r, "load forms", err)
		return
	}
	// Resolve forms first (one goroutine: lookup may reload), then check in
	// parallel: verifying the rev and validating data dominate a push.
	for _, rv := range revs {
		if _, err := l.form(ctx, rv.FormID, rv.FormVersion); err != nil && !errors.Is(err, forms.ErrUnknownForm) {
			s.internal(w, r, "load forms", err)
			return
		}
	}
	ready := &lookup{reg: l.reg, reloaded: true}
	parallel(len(revs), func(i int) {
		errs[i] = check(ctx, ready, d, revs[i], now)
	})

	var good []*record.Revision
	var idx []int
	for i, rv := range revs {
		results[i].Rev = rv.Rev
		if errs[i] != nil {
			results[i].Status = protocol.StatusRejected
			results[i].Error = errs[i].Error()
			continue
		}
		good = append(good, rv)
		idx = append(idx, i)
	}
	if len(good) > 0 {
		res, err := s.store.ApplyFrom(ctx, d.Programme, d.ID, good)
		if err != nil {
			s.internal(w, r, "apply", err)
			return
		}
		for j, i := range idx {
			results[i].Status = res[j].Status
			if res[j].Err != nil {
				results[i].Error = res[j].Err.Error()
			}
		}
	}
	counts := make(map[string]int, 4)
	for _, res := range results {
		counts[res.Status]++
	}
	ri := info(r)
	for _, st := range []string{protocol.StatusApplied, protocol.StatusDuplicate, protocol.StatusConflict, protocol.StatusRejected} {
		s.met.revisions.WithLabelValues(st).Add(float64(counts[st]))
		ri.attrs = append(ri.attrs, slog.Int(st, counts[st]))
	}
	writeJSON(w, r, http.StatusOK, protocol.PushResponse{Results: results})
}

func (s *Server) pull(w http.ResponseWriter, r *http.Request, d *Device) {
	q := r.URL.Query()
	limit := protocol.DefaultPullLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, r, http.StatusBadRequest, protocol.CodeBadRequest, "limit must be a whole number of 1 or more")
			return
		}
		limit = min(n, protocol.MaxPullLimit)
	}
	// A page stops short of s.maxPull bytes of revisions, so a page of
	// large revisions does not hold up to 5,000 of them in memory.
	page, err := s.store.Pull(r.Context(), d.Programme, q.Get("since"), limit, s.maxPull)
	if errors.Is(err, ErrBadCursor) {
		writeError(w, r, http.StatusBadRequest, protocol.CodeBadCursor,
			"since is not a cursor of this hub's history; pull again from an empty since (re-applying is idempotent)")
		return
	} else if err != nil {
		s.internal(w, r, "pull", err)
		return
	}
	var buf bytes.Buffer
	n := 64
	for _, raw := range page.Revisions {
		n += len(raw) + 1
	}
	buf.Grow(n)
	buf.WriteString(`{"revisions":[`)
	for i, raw := range page.Revisions {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(raw)
	}
	next, _ := json.Marshal(page.Next)
	buf.WriteString(`],"next":`)
	buf.Write(next)
	buf.WriteString(`,"more":`)
	buf.WriteString(strconv.FormatBool(page.More))
	buf.WriteString("}")
	writeBody(w, r, http.StatusOK, buf.Bytes())
}
