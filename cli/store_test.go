package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccmcollect/ccmcollect/storage"
)

// TestCommandsThatOnlyReadNeedAStore checks that a mistyped --data or a
// fresh directory makes the commands that read, sync or print fail clearly
// instead of creating an empty store and succeeding on it.
func TestCommandsThatOnlyReadNeedAStore(t *testing.T) {
	data := writeTestFile(t, "a.json", goodCasualty)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"record list", []string{"record", "list"}},
		{"record show", []string{"record", "show", "some-id"}},
		{"record edit", []string{"record", "edit", "some-id", "--file", data}},
		{"record delete", []string{"record", "delete", "some-id"}},
		{"sync", []string{"sync"}},
		{"report needs", []string{"report", "needs", "--out", "OUT/needs.pdf"}},
		{"export", []string{"export", "--form", "casualty", "--format", "csv", "--out", "OUT/c.csv"}},
		{"backup", []string{"backup", "--out", "OUT/store.bak"}},
	} {
		for _, existing := range []bool{false, true} {
			name := tt.name + "/missing dir"
			if existing {
				name = tt.name + "/empty dir"
			}
			t.Run(name, func(t *testing.T) {
				s := newRecStoreEnv(t)
				if existing {
					if err := os.MkdirAll(s.dir, 0o700); err != nil {
						t.Fatal(err)
					}
				}
				outDir := t.TempDir()
				args := make([]string, len(tt.args))
				for i, a := range tt.args {
					args[i] = strings.Replace(a, "OUT", outDir, 1)
				}
				code, out, errs := s.run(args...)
				if code != 1 || !strings.Contains(errs, "no store in "+s.dir) || !strings.Contains(errs, `"record add"`) {
					t.Fatalf("exit %d, want 1 and a clear error\nstdout %s\nstderr %s", code, out, errs)
				}
				if storage.Exists(s.dir) {
					t.Fatal("a store was created")
				}
				entries, err := os.ReadDir(s.dir)
				switch {
				case !existing && !os.IsNotExist(err):
					t.Errorf("the data directory was created (%v)", err)
				case existing && len(entries) > 0:
					t.Errorf("the data directory holds %d new entries", len(entries))
				}
				if left, _ := os.ReadDir(outDir); len(left) > 0 {
					t.Errorf("an output file was written: %s", left[0].Name())
				}
			})
		}
	}
}

// TestNewStorePassphraseTypedTwice checks that a store created from a
// terminal asks for its passphrase twice and creates nothing on a mismatch,
// while piped input (scripts) gives it once.
func TestNewStorePassphraseTypedTwice(t *testing.T) {
	data := writeTestFile(t, "a.json", goodCasualty)
	run := func(t *testing.T, dir, stdin string, args ...string) (int, string) {
		t.Helper()
		env, _, errb := testEnv()
		env.Stdin = strings.NewReader(stdin)
		code := Run(context.Background(), env, append([]string{"--data", dir}, args...))
		if strings.Contains(errb.String(), "first secret") {
			t.Errorf("the passphrase was printed: %q", errb)
		}
		return code, errb.String()
	}
	add := []string{"record", "add", "--form", "casualty", "--file", data}

	t.Run("terminal", func(t *testing.T) {
		old := stdinTerminal
		stdinTerminal = func(io.Reader) bool { return true }
		t.Cleanup(func() { stdinTerminal = old })

		dir := filepath.Join(t.TempDir(), "data")
		code, errs := run(t, dir, "first secret\nfirst secrte\n", add...)
		if code != 1 || !strings.Contains(errs, "differ") {
			t.Fatalf("mismatch: exit %d: %s", code, errs)
		}
		if storage.Exists(dir) {
			t.Fatal("a mismatched passphrase created a store")
		}
		code, errs = run(t, dir, "first secret\nfirst secret\n", add...)
		if code != 0 || strings.Count(errs, "Passphrase of") != 1 || !strings.Contains(errs, "again") {
			t.Fatalf("confirmed: exit %d: %s", code, errs)
		}
		// An existing store is unlocked with one prompt.
		code, errs = run(t, dir, "first secret\n", "record", "list")
		if code != 0 || strings.Contains(errs, "again") {
			t.Fatalf("reopen: exit %d: %s", code, errs)
		}
	})
	t.Run("piped", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		code, errs := run(t, dir, "first secret\n", add...)
		if code != 0 || strings.Contains(errs, "again") || !strings.Contains(errs, "created a new local store") {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if code, errs = run(t, dir, "first secret\n", "record", "list"); code != 0 {
			t.Fatalf("reopen: exit %d: %s", code, errs)
		}
	})
}
