// Package cli implements the headless subcommands of ccmcollect (design.md,
// "Command lines"): scripting, operations and end-to-end tests use them, and
// their output with --json is stable.
//
// Each area registers its commands from its own file (form.go, record.go,
// sync.go, report.go, …) with register; Run dispatches on the longest
// matching command name.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Env is what a command may touch of the outside world. Tests build one with
// buffers; main builds one from the process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads an environment variable (CCMCOLLECT_PASSPHRASE, …).
	Getenv func(string) string
	// Now is the clock; commands never call time.Now directly.
	Now func() time.Time
	// DataDir is the value of the global --data flag, or the default.
	DataDir string
}

// ProcessEnv returns an Env for the running process.
func ProcessEnv() *Env {
	return &Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
		Now:    time.Now,
	}
}

// Command is one subcommand such as "record add".
type Command struct {
	// Name is the words that select the command, e.g. "record add".
	Name string
	// Usage is the synopsis after the name, e.g. "--form ID --file F.json [--draft]".
	Usage string
	// Summary is one sentence for the help text.
	Summary string
	// Run executes the command with the arguments after its name.
	Run func(ctx context.Context, env *Env, args []string) error
}

var commands = map[string]Command{}

// register adds c to the command table; it panics on a duplicate name, a
// programming error caught by every test run.
func register(c Command) {
	if _, dup := commands[c.Name]; dup {
		panic("cli: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

// ErrUsage marks an error in the command line itself; Run prints the
// command's usage after it and exits with status 2.
var ErrUsage = errors.New("usage")

// usageError returns an error wrapping ErrUsage.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// ExitError carries a specific exit status (for example 1 for a validation
// failure that was already reported in detail).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// IsCommand reports whether args start with a registered command or a help
// request, i.e. whether main should run headless.
func IsCommand(args []string) bool {
	args = stripGlobal(args, nil)
	if len(args) == 0 {
		return false
	}
	switch args[0] {
	case "help", "-h", "--help", "-help":
		return true
	}
	_, _, ok := lookup(args)
	return ok || !strings.HasPrefix(args[0], "-")
}

// Run runs the command named by args and returns the process exit status:
// 0 on success, 1 when the command failed, 2 on a usage error.
func Run(ctx context.Context, env *Env, args []string) int {
	args = stripGlobal(args, env)
	if env.DataDir == "" {
		env.DataDir = DefaultDataDir()
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		printHelp(env.Stdout)
		return 0
	}
	cmd, rest, ok := lookup(args)
	if !ok {
		fmt.Fprintf(env.Stderr, "ccmcollect: unknown command %q\n\n", strings.Join(args, " "))
		printHelp(env.Stderr)
		return 2
	}
	for _, a := range rest {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprintf(env.Stdout, "usage: ccmcollect %s %s\n\n%s\n", cmd.Name, cmd.Usage, cmd.Summary)
			return 0
		}
	}
	err := cmd.Run(ctx, env, rest)
	if err == nil {
		return 0
	}
	fmt.Fprintf(env.Stderr, "ccmcollect %s: %v\n", cmd.Name, err)
	var ee *ExitError
	switch {
	case errors.Is(err, ErrUsage) || errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(env.Stderr, "usage: ccmcollect %s %s\n", cmd.Name, cmd.Usage)
		return 2
	case errors.As(err, &ee):
		return ee.Code
	}
	return 1
}

// lookup finds the command with the longest name that prefixes args.
func lookup(args []string) (Command, []string, bool) {
	for n := min(3, len(args)); n > 0; n-- {
		if c, ok := commands[strings.Join(args[:n], " ")]; ok {
			return c, args[n:], true
		}
	}
	return Command{}, nil, false
}

// stripGlobal removes the global --data flag (before or after the command
// words) and records it in env when env is not nil.
func stripGlobal(args []string, env *Env) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--data" || a == "-data":
			if i+1 < len(args) {
				if env != nil {
					env.DataDir = args[i+1]
				}
				i++
			}
		case strings.HasPrefix(a, "--data="), strings.HasPrefix(a, "-data="):
			if env != nil {
				env.DataDir = a[strings.Index(a, "=")+1:]
			}
		default:
			out = append(out, a)
		}
	}
	return out
}

// DefaultDataDir is where the local store lives without --data: the user's
// config directory, or ./ccmcollect-data when there is none.
func DefaultDataDir() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "ccmcollect-data"
	}
	return filepath.Join(dir, "ccmcollect")
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, `ccmcollect: offline data collection for cluster-munition programmes.

usage:
  ccmcollect [--data DIR]            open the desktop app
  ccmcollect --demo                  open the desktop app on a throwaway demo store
  ccmcollect [--data DIR] COMMAND    run a command without the desktop

The local store is encrypted; its passphrase comes from CCMCOLLECT_PASSPHRASE
or is asked for. --data defaults to `+DefaultDataDir()+`.

commands:`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := commands[n]
		fmt.Fprintf(w, "  %-18s %s\n      %s\n", n, c.Usage, c.Summary)
	}
	fmt.Fprintln(w, "\nccmcollect COMMAND --help shows one command's usage.")
}
