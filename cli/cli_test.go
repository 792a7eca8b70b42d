package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func init() {
	register(Command{
		Name:    "selftest echo",
		Usage:   "WORD",
		Summary: "Echoes its argument (test only).",
		Run: func(_ context.Context, env *Env, args []string) error {
			switch {
			case len(args) != 1:
				return usageError("want one word, got %d", len(args))
			case args[0] == "fail":
				return errors.New("it failed")
			case args[0] == "exit3":
				return &ExitError{Code: 3, Err: errors.New("three")}
			}
			_, err := env.Stdout.Write([]byte(args[0] + " " + env.DataDir + "\n"))
			return err
		},
	})
}

func testEnv() (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &Env{
		Stdin:  strings.NewReader(""),
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(string) string { return "" },
		Now:    func() time.Time { return time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC) },
	}, &out, &errb
}

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderr   string
		noStdout bool
	}{
		{name: "help", args: []string{"help"}, code: 0, stdout: "selftest echo"},
		{name: "no args is help", args: nil, code: 0, stdout: "commands:"},
		{name: "runs with data before", args: []string{"--data", "/d", "selftest", "echo", "hi"}, code: 0, stdout: "hi /d"},
		{name: "runs with data after", args: []string{"selftest", "echo", "hi", "--data=/e"}, code: 0, stdout: "hi /e"},
		{name: "command help", args: []string{"selftest", "echo", "--help"}, code: 0, stdout: "usage: ccmcollect selftest echo WORD"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`},
		{name: "usage error", args: []string{"selftest", "echo"}, code: 2, stderr: "usage: ccmcollect selftest echo WORD", noStdout: true},
		{name: "failure", args: []string{"selftest", "echo", "fail"}, code: 1, stderr: "ccmcollect selftest echo: it failed", noStdout: true},
		{name: "exit code", args: []string{"selftest", "echo", "exit3"}, code: 3, stderr: "three", noStdout: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, out, errb := testEnv()
			code := Run(context.Background(), env, tt.args)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout %q does not contain %q", out.String(), tt.stdout)
			}
			if !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stderr %q does not contain %q", errb.String(), tt.stderr)
			}
			if tt.noStdout && out.Len() > 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
		})
	}
}

func TestIsCommand(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--demo"}, false},
		{[]string{"--data", "/x"}, false},
		{[]string{"--data", "/x", "selftest", "echo"}, true},
		{[]string{"help"}, true},
		{[]string{"--help"}, true},
		{[]string{"typo"}, true}, // reported as an unknown command, not a GUI start
	}
	for _, tt := range tests {
		if got := IsCommand(tt.args); got != tt.want {
			t.Errorf("IsCommand(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}
