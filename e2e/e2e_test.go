// Package e2e runs CCM Collect end to end: a real ccmhub process, built from
// this tree in TestMain, and field laptops that are real encrypted stores on
// disk with the real sync engine (and the ccmcollect command line).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/cli"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/storage"
	ccmsync "github.com/ccmcollect/ccmcollect/sync"
	"github.com/ccmcollect/ccmcollect/sync/faultproxy"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// hubBin is the ccmhub binary TestMain builds.
var hubBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ccm-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hubBin = filepath.Join(dir, "ccmhub")
	build := exec.Command("go", "build", "-tags", "migrated_fynedo", "-o", hubBin, "github.com/ccmcollect/ccmcollect/cmd/ccmhub")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ccmhub:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hubProc is a ccmhub process over a Badger directory.
type hubProc struct {
	t    *testing.T
	data string
	addr string // fixed after the first start, so clients keep their URL
	cmd  *exec.Cmd
	logs *syncBuffer
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

func newHub(t *testing.T) *hubProc {
	t.Helper()
	h := &hubProc{t: t, data: filepath.Join(t.TempDir(), "hub"), addr: "127.0.0.1:0", logs: &syncBuffer{}}
	t.Cleanup(h.kill)
	return h
}

// ccmhub runs a ccmhub command to completion and returns its stdout.
func (h *hubProc) ccmhub(args ...string) string {
	h.t.Helper()
	cmd := exec.Command(hubBin, append(args, "--data", h.data)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		h.t.Fatalf("ccmhub %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// addDevice enrols a device and returns its token (the last line).
func (h *hubProc) addDevice(programme, name, role string) string {
	h.t.Helper()
	out := strings.TrimSpace(h.ccmhub("device", "add", "--programme", programme, "--name", name, "--role", role))
	lines := strings.Split(out, "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// start runs "ccmhub serve" and waits until it listens.
func (h *hubProc) start() {
	h.t.Helper()
	cmd := exec.Command(hubBin, "serve", "--data", h.data, "--addr", h.addr, "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.cmd = cmd
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			h.logs.Write([]byte(line + "\n"))
			var l struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" && l.Addr != "" {
				select {
				case ready <- l.Addr:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case addr := <-ready:
		h.addr = addr
	case <-time.After(20 * time.Second):
		h.t.Fatalf("ccmhub serve did not start:\n%s", h.logs.String())
	}
}

// kill ends the hub with SIGKILL, as a power cut would: nothing is flushed
// that was not durable already.
func (h *hubProc) kill() {
	if h.cmd == nil {
		return
	}
	_ = h.cmd.Process.Signal(syscall.SIGKILL)
	_ = h.cmd.Wait()
	h.cmd = nil
}

func (h *hubProc) url() string { return "http://" + h.addr }

// revisions pulls every revision the token may see straight from the hub.
func (h *hubProc) revisions(token string) []*record.Revision {
	h.t.Helper()
	var out []*record.Revision
	since := ""
	for {
		req, _ := http.NewRequest("GET", h.url()+protocol.PathPull+"?limit=5000&since="+url.QueryEscape(since), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			h.t.Fatal(err)
		}
		var pr protocol.PullResponse
		err = json.NewDecoder(resp.Body).Decode(&pr)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			h.t.Fatalf("pull from hub: %d %v", resp.StatusCode, err)
		}
		out = append(out, pr.Revisions...)
		if !pr.More {
			return out
		}
		since = pr.Next
	}
}

// laptop is a field laptop: an encrypted store and a sync engine.
type laptop struct {
	t     *testing.T
	name  string
	dir   string
	store *storage.Store
	eng   *ccmsync.Engine
}

func newLaptop(t *testing.T, name string, mod func(*ccmsync.Options)) *laptop {
	t.Helper()
	l := &laptop{t: t, name: name, dir: filepath.Join(t.TempDir(), name)}
	l.open(mod)
	return l
}

func (l *laptop) open(mod func(*ccmsync.Options)) {
	l.t.Helper()
	st, err := storage.Open(context.Background(), storage.Options{Dir: l.dir, Passphrase: []byte("pass " + l.name)})
	if err != nil {
		l.t.Fatal(err)
	}
	o := ccmsync.Options{Store: st, BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond,
		MaxRetryWait: 100 * time.Millisecond, HTTPTimeout: 20 * time.Second}
	if mod != nil {
		mod(&o)
	}
	eng, err := ccmsync.New(o)
	if err != nil {
		l.t.Fatal(err)
	}
	l.store, l.eng = st, eng
	l.t.Cleanup(l.close)
}

func (l *laptop) close() {
	if l.eng != nil {
		l.eng.Close()
		l.eng = nil
	}
	if l.store != nil {
		if err := l.store.Close(); err != nil {
			l.t.Errorf("close %s: %v", l.name, err)
		}
		l.store = nil
	}
}

func (l *laptop) sync() ccmsync.Result {
	l.t.Helper()
	res, err := l.eng.SyncNow(context.Background())
	if err != nil {
		l.t.Fatalf("sync of %s: %v", l.name, err)
	}
	return res
}

func casualty(i int) map[string]any {
	return map[string]any{
		"incident_date":   "2024-03-12",
		"adm1":            "Xiengkhouang",
		"village":         fmt.Sprintf("Ban %d", i),
		"cm_context":      "remnant",
		"device_category": "submunition",
		"outcome":         []string{"injured", "killed"}[i%2],
		"sex":             []string{"female", "male", "unknown"}[i%3],
		"age":             float64(3 + i%90),
		"civil_status":    "civilian",
		"activity":        "farming",
	}
}

func (l *laptop) create(n int) []string {
	l.t.Helper()
	ids := make([]string, n)
	for i := range n {
		r, err := l.store.Create(context.Background(), "casualty", casualty(i))
		if err != nil {
			l.t.Fatal(err)
		}
		ids[i] = r.RecordID
	}
	return ids
}

func (l *laptop) edit(id, village string) *record.Revision {
	l.t.Helper()
	rec, err := l.store.Get(context.Background(), id)
	if err != nil {
		l.t.Fatal(err)
	}
	data := rec.Current.Clone().Data
	data["village"] = village
	r, err := l.store.Edit(context.Background(), id, data)
	if err != nil {
		l.t.Fatal(err)
	}
	return r
}

// revs returns every rev the laptop holds.
func (l *laptop) revs() map[string]bool {
	l.t.Helper()
	ctx := context.Background()
	out := map[string]bool{}
	q := storage.Query{Limit: 500}
	for {
		p, err := l.store.List(ctx, q)
		if err != nil {
			l.t.Fatal(err)
		}
		for _, s := range p.Records {
			h, err := l.store.History(ctx, s.ID)
			if err != nil {
				l.t.Fatal(err)
			}
			for _, r := range h {
				if out[r.Rev] {
					l.t.Errorf("%s holds %s twice", l.name, r.Rev)
				}
				out[r.Rev] = true
			}
		}
		if p.Next == "" {
			return out
		}
		q.Cursor = p.Next
	}
}

// converged checks that the hub serves every revision once and that every
// laptop holds exactly the hub's revisions, with an empty outbox.
func converged(t *testing.T, h *hubProc, viewerToken string, laptops ...*laptop) int {
	t.Helper()
	hub := map[string]bool{}
	for _, r := range h.revisions(viewerToken) {
		if hub[r.Rev] {
			t.Errorf("hub serves %s twice", r.Rev)
		}
		hub[r.Rev] = true
	}
	for _, l := range laptops {
		got := l.revs()
		for r := range hub {
			if !got[r] {
				t.Errorf("%s lacks %s", l.name, r)
			}
		}
		for r := range got {
			if !hub[r] {
				t.Errorf("%s holds %s, the hub does not", l.name, r)
			}
		}
		if n, err := l.store.OutboxLen(context.Background()); n != 0 || err != nil {
			t.Errorf("%s outbox %d %v", l.name, n, err)
		}
	}
	return len(hub)
}

func TestTwoLaptopsConverge(t *testing.T) {
	ctx := context.Background()
	h := newHub(t)
	tokA := h.addDevice("LAO", "Laptop A", "collector")
	tokB := h.addDevice("LAO", "Laptop B", "collector")
	tokV := h.addDevice("LAO", "Authority desk", "viewer")
	tokK := h.addDevice("KHM", "Laptop K", "collector")
	h.start()

	a := newLaptop(t, "a", nil)
	b := newLaptop(t, "b", nil)
	k := newLaptop(t, "k", nil)
	for _, c := range []struct {
		l   *laptop
		tok string
	}{{a, tokA}, {b, tokB}, {k, tokK}} {
		w, err := ccmsync.Connect(ctx, c.l.store, h.url(), c.tok, false)
		if err != nil {
			t.Fatalf("connect %s: %v", c.l.name, err)
		}
		if w.Role != "collector" {
			t.Errorf("whoami %+v", w)
		}
	}

	// Days offline: both laptops collect, and both edit a shared record.
	shared := a.create(1)[0]
	a.sync()
	b.sync()
	a.create(40)
	b.create(30)
	ra := a.edit(shared, "Ban A")
	rb := b.edit(shared, "Ban B")
	k.create(5)

	// The hub goes down (killed) while they are still offline.
	h.kill()
	if _, err := a.eng.SyncNow(ctx); !errors.Is(err, ccmsync.ErrUnreachable) {
		t.Fatalf("sync with the hub down: %v, want ErrUnreachable", err)
	}
	h.start()

	a.sync()
	rb2 := b.sync()
	if rb2.Conflicts < 1 || rb2.Pulled != 41 {
		t.Errorf("b's sync: %+v, want a conflict and 41 pulled", rb2)
	}
	a.sync()
	k.sync()
	n := converged(t, h, tokV, a, b)
	if n != 1+40+30+2 {
		t.Errorf("hub holds %d revisions, want %d", n, 73)
	}
	winner := max(ra.Rev, rb.Rev)
	for _, l := range []*laptop{a, b} {
		rec, err := l.store.Get(ctx, shared)
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Conflicted || rec.Current.Rev != winner {
			t.Errorf("%s: conflicted %v winner %s, want conflict won by %s", l.name, rec.Conflicted, rec.Current.Rev, winner)
		}
	}
	// The other programme saw nothing of LAO, and LAO nothing of it.
	if got := len(k.revs()); got != 5 {
		t.Errorf("KHM laptop holds %d revisions, want its own 5", got)
	}

	// A merge saved on a clears the conflict everywhere.
	m := a.edit(shared, "Ban A+B")
	a.sync()
	b.sync()
	for _, l := range []*laptop{a, b} {
		rec, err := l.store.Get(ctx, shared)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Conflicted || rec.Current.Rev != m.Rev {
			t.Errorf("%s after merge: conflicted %v current %s", l.name, rec.Conflicted, rec.Current.Rev)
		}
	}
	converged(t, h, tokV, a, b)
	if strings.Contains(h.logs.String(), tokA) || strings.Contains(h.logs.String(), "Ban A") {
		t.Error("hub logs hold a token or record data")
	}
}

// TestHubKilledMidPush kills the hub process while a laptop pushes a large
// outbox in many batches, restarts it, and checks that the next sync
// completes the push without losing or doubling anything.
func TestHubKilledMidPush(t *testing.T) {
	ctx := context.Background()
	h := newHub(t)
	tokA := h.addDevice("LAO", "Laptop A", "collector")
	tokV := h.addDevice("LAO", "Desk", "viewer")
	h.start()
	proxy, err := faultproxy.Start(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	a := newLaptop(t, "a", func(o *ccmsync.Options) { o.PushBatch, o.Attempts = 40, 2 })
	if _, err := ccmsync.Connect(ctx, a.store, proxy.URL(), tokA, false); err != nil {
		t.Fatal(err)
	}
	rows := make([]map[string]any, 600)
	for i := range rows {
		rows[i] = casualty(i)
	}
	if n, err := a.store.Import(ctx, "casualty", rows); err != nil || n != 600 {
		t.Fatalf("import: %d %v", n, err)
	}
	// The sixth push is held back long enough to kill the hub under it.
	proxy.Add(faultproxy.Rule{Method: "POST", PathPrefix: protocol.PathPush, Skip: 5, Action: faultproxy.Delay, Delay: time.Second})
	done := make(chan error, 1)
	var res ccmsync.Result
	go func() {
		var err error
		res, err = a.eng.SyncNow(ctx)
		done <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for proxy.Requests("POST", protocol.PathPush) < 6 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	h.kill()
	if err := <-done; !errors.Is(err, ccmsync.ErrUnreachable) {
		t.Fatalf("sync while the hub died: %+v %v, want ErrUnreachable", res, err)
	}
	if res.Pushed < 200 || res.Pushed >= 600 {
		t.Errorf("pushed %d before the kill, want part of the outbox", res.Pushed)
	}
	h.start()
	proxy.SetTarget(h.addr)
	res2 := a.sync()
	if res.Pushed+res2.Pushed+res2.Duplicates != 600 || res2.Pushed+res2.Duplicates == 0 {
		t.Errorf("pushed %d then %d (+%d duplicates), want 600 in all", res.Pushed, res2.Pushed, res2.Duplicates)
	}
	if n := converged(t, h, tokV, a); n != 600 {
		t.Errorf("hub holds %d, want 600", n)
	}
}

// ccmcollect runs a ccmcollect command in-process on the store in dir and
// returns its exit status and output.
func ccmcollect(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string {
			if k == "CCMCOLLECT_PASSPHRASE" {
				return "cli passphrase"
			}
			return ""
		},
		Now: time.Now,
	}
	code := cli.Run(context.Background(), env, append([]string{"--data", dir}, args...))
	return code, out.String(), errb.String()
}

// TestCommandLine drives two laptops through the ccmcollect command line
// alone: record add, hub connect, sync --json and record edit, against the
// real hub process.
func TestCommandLine(t *testing.T) {
	h := newHub(t)
	tokA := h.addDevice("LAO", "Laptop A", "collector")
	tokB := h.addDevice("LAO", "Laptop B", "collector")
	h.start()
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	file := filepath.Join(t.TempDir(), "casualty.json")
	data := casualty(1)
	data["name"], data["consent"] = "Private Name", "yes"
	b, _ := json.Marshal(data)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errb := ccmcollect(t, dirA, "record", "add", "--form", "casualty", "--file", file)
	if code != 0 {
		t.Fatalf("record add: %d %s", code, errb)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	id := lines[len(lines)-1] // record add prints the id last
	if code, _, errb := ccmcollect(t, dirA, "hub", "connect", "--url", "http://"+strings.Replace(h.addr, "127.0.0.1", "localhost", 1), "--token", tokA); code != 0 {
		t.Fatalf("hub connect: %s", errb)
	}
	if code, _, errb := ccmcollect(t, dirB, "hub", "connect", "--url", h.url(), "--token", "not-the-token"); code != 1 || !strings.Contains(errb, "refused") {
		t.Fatalf("hub connect with a bad token: %d %s", code, errb)
	}
	if code, _, errb := ccmcollect(t, dirB, "hub", "connect", "--url", h.url(), "--token", tokB); code != 0 {
		t.Fatalf("hub connect: %s", errb)
	}
	syncJSON := func(dir string) map[string]int {
		t.Helper()
		code, out, errb := ccmcollect(t, dir, "sync", "--json")
		if code != 0 {
			t.Fatalf("sync --json: %d %s", code, errb)
		}
		if strings.Contains(out+errb, "Private Name") || strings.Contains(out+errb, tokA) || strings.Contains(out+errb, tokB) {
			t.Fatal("sync printed personal data or a token")
		}
		var m map[string]int
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("sync --json printed %q: %v", out, err)
		}
		return m
	}
	if m := syncJSON(dirA); m["pushed"] != 1 || m["pending"] != 0 {
		t.Errorf("a's sync: %v", m)
	}
	if m := syncJSON(dirB); m["pulled"] != 1 {
		t.Errorf("b's sync: %v", m)
	}
	// Both edit offline; after syncing both show the conflict.
	data["village"] = "Ban Upper"
	b, _ = json.Marshal(data)
	_ = os.WriteFile(file, b, 0o600)
	if code, _, errb := ccmcollect(t, dirA, "record", "edit", id, "--file", file); code != 0 {
		t.Fatalf("record edit: %s", errb)
	}
	data["village"] = "Ban Lower"
	b, _ = json.Marshal(data)
	_ = os.WriteFile(file, b, 0o600)
	if code, _, errb := ccmcollect(t, dirB, "record", "edit", id, "--file", file); code != 0 {
		t.Fatalf("record edit: %s", errb)
	}
	syncJSON(dirA)
	if m := syncJSON(dirB); m["conflicts"] < 1 {
		t.Errorf("b's sync into a conflict: %v", m)
	}
	syncJSON(dirA)
	var shown [2]string
	for i, dir := range []string{dirA, dirB} {
		code, out, errb := ccmcollect(t, dir, "record", "show", id, "--json")
		if code != 0 {
			t.Fatalf("record show: %s", errb)
		}
		var rec struct {
			Rev        string `json:"rev"`
			Conflicted bool   `json:"conflicted"`
		}
		if err := json.Unmarshal([]byte(out), &rec); err != nil || !rec.Conflicted || rec.Rev == "" {
			t.Errorf("record show --json on %s: %v, want the conflict: %s", dir, err, out)
		}
		shown[i] = rec.Rev
	}
	if shown[0] != shown[1] {
		t.Errorf("the laptops show different winners: %q and %q", shown[0], shown[1])
	}
}
