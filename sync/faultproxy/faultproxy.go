// Package faultproxy is a small HTTP/1.1 proxy for tests (the sync fault
// tests and e2e) that sits between a client and a real server and injects
// faults into chosen requests: it can cut the connection after a given
// number of bytes of the request or of the response, delay a request, or
// answer it itself (5xx, 429 with Retry-After) without the server ever
// seeing it.
//
// Requests are matched by method and path prefix; a rule can let some
// matching requests pass first and fire a given number of times. Requests no
// rule matches pass through unchanged. Cutting a response after the server
// answered is the way to simulate "the hub applied the batch but the answer
// never arrived".
package faultproxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Action is what a rule does to a matching request.
type Action int

const (
	// CutRequest forwards the first Bytes bytes of the request to the server
	// (0: none), then closes both connections.
	CutRequest Action = iota + 1
	// CutResponse forwards the whole request, reads the server's whole
	// answer, sends the client only its first Bytes bytes (0: none) and
	// closes both connections.
	CutResponse
	// Respond answers with Status (and Retry-After when set) without
	// contacting the server.
	Respond
	// Delay waits Delay, then forwards the request normally.
	Delay
)

// Rule injects one fault.
type Rule struct {
	Method     string // "" matches any
	PathPrefix string // "" matches any
	// BodyContains, when set, matches only requests whose body (after
	// gzip decompression) contains it.
	BodyContains string
	Skip         int // matching requests that pass untouched before the rule fires
	Times        int // how many times it fires; 0 means once, -1 forever

	Action     Action
	Bytes      int           // for CutRequest and CutResponse
	Status     int           // for Respond
	RetryAfter string        // for Respond: the Retry-After header, if any
	Delay      time.Duration // for Delay

	seen, fired int
}

// Proxy forwards connections from its listener to Target.
type Proxy struct {
	Target string // host:port of the server

	ln net.Listener
	wg sync.WaitGroup

	mu       sync.Mutex
	rules    []*Rule
	conns    map[net.Conn]struct{}
	requests map[string]int // by "METHOD path"
	faults   int
	closed   bool
}

// Start listens on a free loopback port and proxies to target.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p := &Proxy{Target: target, ln: ln, conns: map[net.Conn]struct{}{}, requests: map[string]int{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns "http://" + Addr().
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// SetTarget points the proxy at another server (for example a restarted one
// on a new port). Connections already open keep their old target.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.Target = target
	p.mu.Unlock()
}

// Add appends rules; the first matching rule that still fires wins.
func (p *Proxy) Add(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range rules {
		r := rules[i]
		p.rules = append(p.rules, &r)
	}
}

// Clear removes every rule.
func (p *Proxy) Clear() {
	p.mu.Lock()
	p.rules = nil
	p.mu.Unlock()
}

// Faults returns how many faults were injected so far.
func (p *Proxy) Faults() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// Requests returns how many requests "METHOD path" (path without query) the
// proxy has seen, faulted or not.
func (p *Proxy) Requests(method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[method+" "+path]
}

// DropAll closes every open connection, as a network outage would.
func (p *Proxy) DropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Close stops listening, drops every connection and waits for the proxy's
// goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.DropAll()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			p.serve(c)
		}()
	}
}

// match returns the rule that fires for req, or nil, and counts the request.
func (p *Proxy) match(req *http.Request, body []byte) *Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests[req.Method+" "+req.URL.Path]++
	var plain []byte
	for _, r := range p.rules {
		if r.Method != "" && r.Method != req.Method || !strings.HasPrefix(req.URL.Path, r.PathPrefix) {
			continue
		}
		if r.BodyContains != "" {
			if plain == nil {
				plain = decoded(req, body)
			}
			if !bytes.Contains(plain, []byte(r.BodyContains)) {
				continue
			}
		}
		times := r.Times
		if times == 0 {
			times = 1
		}
		if times > 0 && r.fired >= times {
			continue
		}
		r.seen++
		if r.seen <= r.Skip {
			continue
		}
		r.fired++
		p.faults++
		c := *r
		return &c
	}
	return nil
}

// serve handles one client connection, request by request.
func (p *Proxy) serve(client net.Conn) {
	br := bufio.NewReader(client)
	var up net.Conn
	var upr *bufio.Reader
	defer func() {
		if up != nil {
			p.untrack(up)
		}
	}()
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		// Read the whole body so the request can be forwarded byte-exact.
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return
		}
		raw := serializeRequest(req, body)
		rule := p.match(req, body)
		if rule != nil && rule.Action == Respond {
			if err := writeResponse(client, rule.Status, rule.RetryAfter); err != nil {
				return
			}
			continue
		}
		if rule != nil && rule.Action == Delay {
			time.Sleep(rule.Delay)
		}
		if up == nil {
			p.mu.Lock()
			target := p.Target
			p.mu.Unlock()
			up, err = net.Dial("tcp", target)
			if err != nil {
				return // the client sees a dropped connection
			}
			if !p.track(up) {
				return
			}
			upr = bufio.NewReader(up)
		}
		if rule != nil && rule.Action == CutRequest {
			if rule.Bytes > 0 {
				_, _ = up.Write(raw[:min(rule.Bytes, len(raw))])
			}
			return
		}
		if _, err := up.Write(raw); err != nil {
			return
		}
		resp, err := http.ReadResponse(upr, req)
		if err != nil {
			return
		}
		var out bytes.Buffer
		err = resp.Write(&out)
		resp.Body.Close()
		if err != nil {
			return
		}
		if rule != nil && rule.Action == CutResponse {
			if rule.Bytes > 0 {
				_, _ = client.Write(out.Bytes()[:min(rule.Bytes, out.Len())])
			}
			return
		}
		if _, err := client.Write(out.Bytes()); err != nil {
			return
		}
		if resp.Close || req.Close {
			return
		}
	}
}

// serializeRequest writes req in wire form with a fixed Content-Length.
func serializeRequest(req *http.Request, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", req.Method, req.RequestURI)
	fmt.Fprintf(&b, "Host: %s\r\n", req.Host)
	h := req.Header.Clone()
	h.Del("Transfer-Encoding")
	h.Del("Content-Length")
	_ = h.Write(&b)
	if len(body) > 0 || req.Method == http.MethodPost || req.Method == http.MethodPut {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// writeResponse writes a small JSON error answer in API v1's error shape.
func writeResponse(w io.Writer, status int, retryAfter string) error {
	code := "internal"
	switch {
	case status == http.StatusTooManyRequests:
		code = "too_many_requests"
	case status == http.StatusServiceUnavailable:
		code = "unavailable"
	case status < 500:
		code = "bad_request"
	}
	body := `{"error":{"code":"` + code + `","message":"injected by faultproxy"}}`
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	b.WriteString("Content-Type: application/json\r\n")
	if retryAfter != "" {
		b.WriteString("Retry-After: " + retryAfter + "\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	_, err := w.Write(b.Bytes())
	if err != nil {
		return errors.Join(errors.New("faultproxy: writing answer"), err)
	}
	return nil
}

// decoded returns body, gunzipped when the request says it is gzip.
func decoded(req *http.Request, body []byte) []byte {
	if !strings.EqualFold(req.Header.Get("Content-Encoding"), "gzip") {
		return body
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return body
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return body
	}
	return plain
}
