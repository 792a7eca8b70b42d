package command_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/hub/internal/pgtest"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// binary is the ccmhub executable TestMain builds.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ccmhub-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ccmhub")
	build := exec.Command("go", "build", "-tags", "migrated_fynedo", "-o", binary, "github.com/ccmcollect/ccmcollect/cmd/ccmhub")
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

// proc is a running `ccmhub serve`.
type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	mu   *sync.Mutex
	done chan error
}

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServe runs the binary's serve on a free loopback port.
func startServe(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	select {
	case a := <-addr:
		p.url = "http://" + a
	case err := <-p.done:
		t.Fatalf("serve exited: %v\n%s", err, p.logs)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	return p
}

func (p *proc) log() string { p.mu.Lock(); defer p.mu.Unlock(); return p.logs.String() }

func addDevice(t *testing.T, store ...string) string {
	t.Helper()
	out, err := exec.Command(binary, append([]string{"device", "add", "--programme", "LAO", "--name", "bin"}, store...)...).Output()
	if err != nil {
		t.Fatalf("device add: %v", err)
	}
	return lastLine(string(out))
}

func casualtyRev(t testing.TB, i int) *record.Revision {
	t.Helper()
	r, err := record.NewRevision(record.NewID(), "casualty", 1, map[string]any{
		"incident_date": "2024-03-12", "adm1": "Xiengkhouang", "outcome": "injured", "sex": "male",
		"age": float64(i % 90), "cm_context": "remnant",
	}, record.Meta{Programme: "LAO", SavedAt: now}) // no device_id: any device of LAO may push it
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func pushBody(t testing.TB, revs []*record.Revision) []byte {
	t.Helper()
	b, err := json.Marshal(protocol.PushRequest{Revisions: revs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(url, token string, body io.Reader) (*http.Response, error) {
	req, _ := http.NewRequest("POST", url+protocol.PathPush, body)
	req.Header.Set("Authorization", "Bearer "+token)
	return http.DefaultClient.Do(req)
}

// TestBinaryGracefulShutdown: SIGTERM while a push is in flight lets the
// push finish and be stored, then the process exits 0.
func TestBinaryGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	token := addDevice(t, "--data", dir)
	p := startServe(t, "--data", dir)

	rev := casualtyRev(t, 1)
	body := pushBody(t, []*record.Revision{rev})
	pr, pw := io.Pipe()
	type answer struct {
		status int
		body   []byte
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := post(p.url, token, pr)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		answered <- answer{resp.StatusCode, b, err}
	}()
	pw.Write(body[:10])
	// Wait until the push is inside the handler.
	for i := 0; ; i++ {
		resp, err := http.Get(p.url + "/metrics")
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
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Wait for the hub to start shutting down, then finish the push.
	for i := 0; !strings.Contains(p.log(), "shutting down"); i++ {
		if i > 500 {
			t.Fatalf("no shutdown after SIGTERM:\n%s", p.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	pw.Write(body[10:])
	pw.Close()
	a := <-answered
	if a.err != nil || a.status != 200 {
		t.Fatalf("in-flight push: %d %v %s", a.status, a.err, a.body)
	}
	var res protocol.PushResponse
	if err := json.Unmarshal(a.body, &res); err != nil || len(res.Results) != 1 || res.Results[0].Status != "applied" {
		t.Fatalf("in-flight push answer: %s", a.body)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.log())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("hub did not exit after SIGTERM")
	}
	// The acknowledged revision is in the store after the restart.
	p = startServe(t, "--data", dir)
	req, _ := http.NewRequest("GET", p.url+protocol.PathPull, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var pull protocol.PullResponse
	json.NewDecoder(resp.Body).Decode(&pull)
	resp.Body.Close()
	if len(pull.Revisions) != 1 || pull.Revisions[0].Rev != rev.Rev {
		t.Errorf("after restart: %d revisions", len(pull.Revisions))
	}
	if strings.Contains(p.log(), token) {
		t.Error("the log holds the token")
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if err := <-p.done; err != nil {
		t.Errorf("exit after SIGINT: %v", err)
	}
}

// TestTwoProcessesOnePostgres: two hub processes on one database, pushers
// on both, and a puller paging through both with next: every revision is
// seen exactly once.
func TestTwoProcessesOnePostgres(t *testing.T) {
	db := pgtest.NewDatabase(t)
	a := startServe(t, "--postgres", db)
	b := startServe(t, "--postgres", db)
	token := addDevice(t, "--postgres", db)
	hubs := []*proc{a, b}

	const pushers, batches, perBatch = 4, 8, 50
	var wg sync.WaitGroup
	pushed := make(chan string, pushers*batches*perBatch)
	errs := make(chan error, pushers)
	for w := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bt := range batches {
				revs := make([]*record.Revision, perBatch)
				for i := range revs {
					revs[i] = casualtyRev(t, w*10000+bt*100+i)
				}
				resp, err := post(hubs[w%2].url, token, bytes.NewReader(pushBody(t, revs)))
				if err != nil {
					errs <- err
					return
				}
				var res protocol.PushResponse
				err = json.NewDecoder(resp.Body).Decode(&res)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					errs <- fmt.Errorf("push: %d %v", resp.StatusCode, err)
					return
				}
				for i, r := range res.Results {
					if r.Status != "applied" {
						errs <- fmt.Errorf("%s: %s", r.Status, r.Error)
						return
					}
					pushed <- revs[i].Rev
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[string]int{}
	since := ""
	finished := false
	for round := 0; ; round++ {
		select {
		case <-done:
			finished = true
		default:
		}
		h := hubs[round%2]
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s%s?since=%s&limit=37", h.url, protocol.PathPull, since), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var pr protocol.PullResponse
		err = json.NewDecoder(resp.Body).Decode(&pr)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("pull: %d %v", resp.StatusCode, err)
		}
		for _, r := range pr.Revisions {
			seen[r.Rev]++
		}
		since = pr.Next
		if finished && !pr.More {
			break
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	close(pushed)
	n := 0
	for rev := range pushed {
		n++
		if seen[rev] != 1 {
			t.Errorf("%s seen %d times", rev, seen[rev])
		}
	}
	if n != pushers*batches*perBatch || len(seen) != n {
		t.Errorf("pushed %d, puller saw %d distinct", n, len(seen))
	}
	for _, h := range hubs {
		h.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-h.done; err != nil {
			t.Errorf("exit: %v", err)
		}
	}
}

// TestBinaryCrashKeepsAcknowledged: a hub killed with SIGKILL right after
// acknowledging pushes still has every acknowledged revision on restart.
func TestBinaryCrashKeepsAcknowledged(t *testing.T) {
	dir := t.TempDir()
	token := addDevice(t, "--data", dir)
	p := startServe(t, "--data", dir)
	var acked []string
	for b := range 5 {
		revs := make([]*record.Revision, 100)
		for i := range revs {
			revs[i] = casualtyRev(t, b*100+i)
		}
		resp, err := post(p.url, token, bytes.NewReader(pushBody(t, revs)))
		if err != nil {
			t.Fatal(err)
		}
		var res protocol.PushResponse
		json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		for i, r := range res.Results {
			if r.Status == protocol.StatusApplied {
				acked = append(acked, revs[i].Rev)
			}
		}
	}
	if len(acked) != 500 {
		t.Fatalf("%d acknowledged, want 500", len(acked))
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done

	p = startServe(t, "--data", dir)
	defer func() { p.cmd.Process.Signal(syscall.SIGTERM); <-p.done }()
	seen := map[string]bool{}
	since := ""
	for {
		req, _ := http.NewRequest("GET", p.url+protocol.PathPull+"?limit=128&since="+since, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var pr protocol.PullResponse
		err = json.NewDecoder(resp.Body).Decode(&pr)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range pr.Revisions {
			seen[r.Rev] = true
		}
		since = pr.Next
		if !pr.More {
			break
		}
	}
	for _, rev := range acked {
		if !seen[rev] {
			t.Fatalf("acknowledged revision %s lost in the crash", rev)
		}
	}
}
