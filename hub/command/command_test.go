package command_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/command"
	"github.com/ccmcollect/ccmcollect/hub/internal/pgtest"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// run runs ccmhub in-process and returns its exit status and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &command.Env{Stdout: &out, Stderr: &errb, Now: func() time.Time { return now }}
	code := command.Run(context.Background(), env, args)
	return code, out.String(), errb.String()
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"serve", "--help"}, {"device", "add", "--help"}, {"device", "list", "-h"},
		{"device", "revoke", "--help"}, {"form", "publish", "--help"},
	} {
		code, out, _ := run(t, args...)
		if code != 0 || !strings.Contains(out, "usage: ccmhub") && !strings.Contains(out, "ccmhub: the national hub") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
	if code, _, errOut := run(t, "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: exit %d, %q", code, errOut)
	}
}

func TestDeviceCommands(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, "device", "add", "--programme", "LAO", "--name", "Field laptop 3", "--data", dir)
	if code != 0 {
		t.Fatalf("device add: exit %d: %s", code, errOut)
	}
	token := lastLine(out)
	if len(token) < 43 || strings.ContainsAny(token, " \t") {
		t.Fatalf("last line %q is not a token", token)
	}
	code, out, _ = run(t, "device", "add", "--data", dir, "--programme", "LAO", "--name", "Desk", "--role", "viewer")
	if code != 0 || lastLine(out) == token {
		t.Fatalf("second device add: exit %d, same token %v", code, lastLine(out) == token)
	}

	code, out, _ = run(t, "device", "list", "--json", "--data", dir)
	var devs []hub.Device
	if code != 0 || json.Unmarshal([]byte(out), &devs) != nil || len(devs) != 2 {
		t.Fatalf("device list --json: exit %d: %s", code, out)
	}
	if devs[0].Name != "Field laptop 3" || devs[0].Role != "collector" || devs[1].Role != "viewer" || devs[0].Programme != "LAO" {
		t.Errorf("devices: %+v", devs)
	}
	code, out, _ = run(t, "device", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, "Field laptop 3") || strings.Contains(out, token) {
		t.Errorf("device list: exit %d: %s", code, out)
	}
	// The token itself is never stored.
	if found := grepDir(t, dir, token); found {
		t.Error("the token is stored in the data directory")
	}

	if code, _, errOut := run(t, "device", "revoke", devs[0].ID, "--data", dir); code != 0 {
		t.Fatalf("revoke: %s", errOut)
	}
	_, out, _ = run(t, "device", "list", "--json", "--data", dir)
	json.Unmarshal([]byte(out), &devs)
	if devs[0].RevokedAt.IsZero() || !devs[1].RevokedAt.IsZero() {
		t.Errorf("after revoke: %+v", devs)
	}
	missing := filepath.Join(t.TempDir(), "typo")
	for _, args := range [][]string{{"device", "list"}, {"device", "revoke", "x"}} {
		code, _, errOut := run(t, append(args, "--data", missing)...)
		if code != 1 || !strings.Contains(errOut, "no hub data in") {
			t.Errorf("%v on a missing directory: exit %d %q", args, code, errOut)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a command created the mistyped data directory")
	}
	if code, _, errOut := run(t, "device", "revoke", "no-such-id", "--data", dir); code != 1 || !strings.Contains(errOut, "no-such-id") {
		t.Errorf("revoke unknown: exit %d %q", code, errOut)
	}

	bad := [][]string{
		{"device", "add", "--name", "x"},
		{"device", "add", "--programme", "lao", "--name", "x"},
		{"device", "add", "--programme", "LAO"},
		{"device", "add", "--programme", "LAO", "--name", "x", "--role", "admin"},
		{"device", "add", "--programme", "LAO", "--name", "x", "--bogus"},
		{"device", "revoke"},
		{"serve", "--tls-cert", "c.pem"},
	}
	for _, args := range bad {
		code, _, errOut := run(t, append(args, "--data", dir)...)
		if code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("%v: exit %d, %q; want a usage error", args, code, errOut)
		}
	}
	_, out, _ = run(t, "device", "list", "--json", "--data", dir)
	json.Unmarshal([]byte(out), &devs)
	if len(devs) != 2 {
		t.Errorf("bad commands changed the devices: %d", len(devs))
	}
}

func grepDir(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			found = found || bytes.Contains(b, []byte(s))
		}
		return nil
	})
	return found
}

// serveInProcess starts serve in-process and returns its URL and a stop
// function that waits for it to end and returns its exit status.
func serveInProcess(t *testing.T, args ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var errb bytes.Buffer
	env := &command.Env{Stdout: &bytes.Buffer{}, Stderr: &errb, Now: time.Now, Ready: func(a string) { ready <- a }}
	done := make(chan int, 1)
	go func() { done <- command.Run(ctx, env, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)) }()
	select {
	case addr := <-ready:
		return "http://" + addr, func() int { cancel(); return <-done }
	case code := <-done:
		cancel()
		t.Fatalf("serve exited %d: %s", code, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", nil
}

func whoami(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url+protocol.PathWhoami, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestServeBadger(t *testing.T) {
	dir := t.TempDir()
	_, out, _ := run(t, "device", "add", "--programme", "LAO", "--name", "A", "--data", dir)
	token := lastLine(out)
	url, stop := serveInProcess(t, "--data", dir)
	if st := whoami(t, url, token); st != 200 {
		t.Errorf("whoami: %d", st)
	}
	// While serve holds the directory, other commands say so clearly.
	code, _, errOut := run(t, "device", "add", "--programme", "LAO", "--name", "B", "--data", dir)
	if code != 1 || !strings.Contains(errOut, "stop the hub or use --postgres") {
		t.Errorf("device add while serving: exit %d %q", code, errOut)
	}
	if code := stop(); code != 0 {
		t.Errorf("serve exit %d after cancel", code)
	}
}

func TestPostgresCommands(t *testing.T) {
	db := pgtest.NewDatabase(t)
	url, stop := serveInProcess(t, "--postgres", db)
	defer stop()
	// With PostgreSQL, devices can be added and revoked while the hub runs.
	code, out, errOut := run(t, "device", "add", "--programme", "LAO", "--name", "A", "--postgres", db)
	if code != 0 {
		t.Fatalf("device add: %s", errOut)
	}
	token := lastLine(out)
	if st := whoami(t, url, token); st != 200 {
		t.Fatalf("whoami: %d", st)
	}
	_, out, _ = run(t, "device", "list", "--json", "--postgres", db)
	var devs []hub.Device
	json.Unmarshal([]byte(out), &devs)
	if len(devs) != 1 {
		t.Fatalf("devices: %s", out)
	}
	run(t, "device", "revoke", devs[0].ID, "--postgres", db)
	if st := whoami(t, url, token); st != 401 {
		t.Errorf("whoami after revoke in another process: %d, want 401", st)
	}
	if code, _, _ := run(t, "device", "list", "--postgres", db, "--data", "/tmp/x"); code != 2 {
		t.Errorf("--data with --postgres: exit %d, want 2", code)
	}
}

// TestServeJSONLogs: scripts find the address in the JSON "listening" line.
func TestServeJSONLogs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var errb bytes.Buffer
	env := &command.Env{Stdout: &bytes.Buffer{}, Stderr: &errb, Now: time.Now, Ready: func(a string) { ready <- a }}
	done := make(chan int, 1)
	go func() {
		done <- command.Run(ctx, env, []string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json", "--data", t.TempDir()})
	}()
	addr := <-ready
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var first struct{ Msg, Addr, Store string }
	line, _, _ := strings.Cut(errb.String(), "\n")
	if err := json.Unmarshal([]byte(line), &first); err != nil || first.Msg != "listening" || first.Addr != addr || first.Store != "badger" {
		t.Errorf("first log line %q (%v), want listening on %s", line, err, addr)
	}
}

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestShutdownTimeoutWaitsForHandlers: when requests are still in flight
// at the shutdown timeout, serve cuts them off and waits for their
// handlers to return before it closes the store and returns.
func TestShutdownTimeoutWaitsForHandlers(t *testing.T) {
	dir := t.TempDir()
	_, out, _ := run(t, "device", "add", "--programme", "LAO", "--name", "A", "--data", dir)
	token := lastLine(out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	logs := &lockedBuffer{}
	env := &command.Env{Stdout: &bytes.Buffer{}, Stderr: logs, Now: time.Now,
		Ready: func(a string) { ready <- a }, ShutdownTimeout: 100 * time.Millisecond}
	done := make(chan int, 1)
	go func() { done <- command.Run(ctx, env, []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}) }()
	url := "http://" + <-ready

	// A push whose body never finishes: its handler waits on the client.
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		req, _ := http.NewRequest("POST", url+protocol.PathPush, pr)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	pw.Write([]byte(`{"revisions":[`))
	for i := 0; ; i++ {
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		m, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(m), "ccmhub_http_requests_in_flight 1") {
			break
		}
		if i > 500 {
			t.Fatal("push never reached the handler")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after the shutdown timeout")
	}
	// The push's request line is logged when its handler returns: it must
	// be there when serve returns, that is before the store was closed.
	got := logs.String()
	if !strings.Contains(got, "path="+protocol.PathPush) {
		t.Errorf("serve returned while the push handler was still running:\n%s", got)
	}
	if code != 1 || !strings.Contains(got, "cut off") {
		t.Errorf("exit %d, want 1 saying requests were cut off:\n%s", code, got)
	}
	// The store was closed cleanly: the directory opens again.
	if c, _, errOut := run(t, "device", "list", "--data", dir); c != 0 {
		t.Errorf("device list after the cut-off shutdown: exit %d %s", c, errOut)
	}
}
