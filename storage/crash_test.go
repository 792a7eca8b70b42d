package storage

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// crashChildEnv makes the test binary act as the crash child: it saves
// records into the directory the variable names, printing each id once its
// save returned, until it is killed.
const crashChildEnv = "CCMCOLLECT_STORAGE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

func crashChild(dir string) {
	ctx := context.Background()
	s, err := Open(ctx, testOptions(dir, "crash"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	for i := 0; ; i++ {
		r, err := s.Create(ctx, "casualty", casualty("Crash", fmt.Sprintf("v%d", i)))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		fmt.Printf("%s %s\n", r.RecordID, r.Rev)
	}
}

func TestCrashKeepsReturnedSaves(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	saved := map[string]string{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		id, rev, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		saved[id] = rev
		if len(saved) == 60 {
			cmd.Process.Signal(syscall.SIGKILL)
			break
		}
	}
	// Lines the child printed before the kill still count: their saves returned.
	for sc.Scan() {
		if id, rev, ok := strings.Cut(sc.Text(), " "); ok {
			saved[id] = rev
		}
	}
	cmd.Wait()
	if len(saved) < 60 {
		t.Fatalf("child saved only %d records: %s", len(saved), stderr.String())
	}
	s, err := Open(context.Background(), testOptions(dir, "crash"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for id, rev := range saved {
		r, err := s.Get(ctx, id)
		if err != nil {
			t.Fatalf("record %s lost: %v", id, err)
		}
		if r.Current.Rev != rev {
			t.Fatalf("record %s: rev %s, want %s", id, r.Current.Rev, rev)
		}
		if err := r.Current.Verify(); err != nil {
			t.Fatalf("record %s damaged: %v", id, err)
		}
	}
	n, err := s.OutboxLen(ctx)
	if err != nil || n < len(saved) {
		t.Fatalf("outbox %d < %d saved (%v)", n, len(saved), err)
	}
	c, _ := s.Counts(ctx)
	if c["casualty"][StatusPending] != n {
		t.Fatalf("counters %v disagree with outbox %d", c, n)
	}
}
