package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/badgerstore"
	"github.com/ccmcollect/ccmcollect/storage"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// syncHub serves a real hub (Badger on disk) over HTTP and returns its URL
// and the token of a LAO collector.
func syncHub(t *testing.T) (string, string) {
	t.Helper()
	st, err := badgerstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tok, hash := hub.NewToken()
	if err := st.AddDevice(context.Background(), hub.Device{ID: "dev-1", Name: "Laptop 1", Programme: "LAO",
		Role: protocol.RoleCollector, TokenHash: hash, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub.New(hub.Config{Store: st}).Handler())
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	return srv.URL, tok
}

// storeEnv is a test Env over a data directory with a passphrase, reading
// stdin from in.
func storeEnv(dir, in string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	env, out, errb := testEnv()
	env.DataDir = dir
	env.Stdin = strings.NewReader(in)
	env.Getenv = func(k string) string {
		if k == "CCMCOLLECT_PASSPHRASE" {
			return "a long test passphrase"
		}
		return ""
	}
	env.Now = time.Now
	return env, out, errb
}

func TestHubConnectAndSync(t *testing.T) {
	url, tok := syncHub(t)
	dir := t.TempDir()
	ctx := context.Background()
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
		// askPass leaves CCMCOLLECT_PASSPHRASE unset: the passphrase follows on stdin.
		askPass bool
	}{
		{name: "no url", args: []string{"hub", "connect", "--token", "x"}, code: 2, stderr: "--url is required"},
		{name: "no token", args: []string{"hub", "connect", "--url", url}, code: 2, stderr: "--token is required"},
		{name: "plain http elsewhere", args: []string{"hub", "connect", "--url", "http://hub.example.org", "--token", tok}, code: 1, stderr: "--insecure"},
		{name: "bad token", args: []string{"hub", "connect", "--url", url, "--token", "wrong-token"}, code: 1, stderr: "refused"},
		{name: "sync before connect", args: []string{"sync"}, code: 1, stderr: "hub connect"},
		{name: "connect", args: []string{"hub", "connect", "--url", url, "--token", "-"}, stdin: tok + "\n", code: 0,
			stdout: "programme: LAO\ndevice: Laptop 1 (dev-1)\nrole: collector"},
		{name: "token and passphrase on stdin", args: []string{"hub", "connect", "--url", url + "/", "--token", "-"}, askPass: true,
			stdin: tok + "\na long test passphrase\n", code: 0, stdout: "programme: LAO"},
		{name: "sync nothing", args: []string{"sync"}, code: 0, stdout: "pushed 0, duplicates 0, pulled 0, rejected 0, conflicts 0"},
		{name: "sync extra arg", args: []string{"sync", "now"}, code: 2, stderr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, out, errb := storeEnv(dir, tt.stdin)
			if tt.askPass {
				env.Getenv = func(string) string { return "" }
			}
			code := Run(ctx, env, tt.args)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tt.code, out, errb)
			}
			if !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stdout %q want %q; stderr %q want %q", out, tt.stdout, errb, tt.stderr)
			}
			if strings.Contains(out.String()+errb.String(), tok) {
				t.Error("the token was printed")
			}
		})
	}

	// Records saved locally are pushed by sync --json.
	st, err := storage.Open(ctx, storage.Options{Dir: dir, Passphrase: []byte("a long test passphrase")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := st.Create(ctx, "casualty", map[string]any{
			"incident_date": "2024-03-12", "adm1": "Xiengkhouang", "outcome": "injured",
			"sex": "female", "age": float64(30 + i), "name": "Secret Person", "consent": "yes",
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	env, out, errb := storeEnv(dir, "")
	if code := Run(ctx, env, []string{"sync", "--json"}); code != 0 {
		t.Fatalf("sync --json: exit %d: %s", code, errb)
	}
	var got struct {
		Pushed, Duplicates, Pulled, Rejected, Conflicts, Pending int
		Bytes                                                    int64
		RejectedWaiting                                          int `json:"rejected_waiting"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("sync --json printed %q: %v", out, err)
	}
	if got.Pushed != 3 || got.Pending != 0 || got.Rejected != 0 || got.Bytes == 0 {
		t.Errorf("sync --json: %+v", got)
	}
	if strings.Contains(out.String()+errb.String(), "Secret Person") {
		t.Error("sync printed personal data")
	}
}
