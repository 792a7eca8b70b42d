// Package command implements the ccmhub command line (design.md, "Command
// lines"): serve, device add|list|revoke and form publish. cmd/ccmhub is a
// thin main over Run, so tests run every command in-process.
package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/badgerstore"
)

// Env is what a command may touch of the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	Now            func() time.Time
	// Ready, when set, is called by serve with the address it listens on
	// once it accepts connections (tests use it with --addr 127.0.0.1:0).
	Ready func(addr string)
	// ShutdownTimeout is how long serve waits for requests in flight
	// after a stop signal before it cuts them off (0: 30s).
	ShutdownTimeout time.Duration
}

// ProcessEnv returns an Env for the running process.
func ProcessEnv() *Env {
	return &Env{Stdout: os.Stdout, Stderr: os.Stderr, Now: time.Now}
}

// DefaultData is the Badger directory without --data.
const DefaultData = "./ccmhub-data"

type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, env *Env, fs *flag.FlagSet, args []string) error
	flags                func(fs *flag.FlagSet)
}

var commands = []command{
	{
		name: "serve", usage: "[--addr 127.0.0.1:8470] [--data DIR | --postgres URL] [--tls-cert F --tls-key F] [--log-format text|json] [--max-concurrent N]",
		summary: "serve API v1 and /metrics until SIGINT or SIGTERM; requests in flight finish first",
		flags:   serveFlags, run: runServe,
	},
	{
		name: "device add", usage: "--programme LAO --name NAME [--role collector|viewer] [--data DIR | --postgres URL]",
		summary: "enrol a device; prints its token once, on the last line (only its hash is stored)",
		flags:   deviceAddFlags, run: runDeviceAdd,
	},
	{
		name: "device list", usage: "[--json] [--data DIR | --postgres URL]",
		summary: "list enrolled devices (never their tokens)",
		flags:   func(fs *flag.FlagSet) { fs.Bool("json", false, "print JSON") }, run: runDeviceList,
	},
	{
		name: "device revoke", usage: "ID [--data DIR | --postgres URL]",
		summary: "revoke a device: its token is refused from the next request on",
		run:     runDeviceRevoke,
	},
	{
		name: "form publish", usage: "F.json [--data DIR | --postgres URL]",
		summary: "publish a validated custom form version for the programme the definition names",
		run:     runFormPublish,
	},
}

// ErrUsage marks a mistake in the command line; Run exits with status 2.
var ErrUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Run runs the ccmhub command in args and returns the exit status: 0 on
// success, 1 when the command failed, 2 for a usage error.
func Run(ctx context.Context, env *Env, args []string) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
		w := env.Stdout
		if len(args) == 0 {
			w = env.Stderr
		}
		printHelp(w)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var cmd *command
	rest := args
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == commands[i].name {
			cmd, rest = &commands[i], args[len(words):]
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(env.Stderr, "ccmhub: unknown command %q\n\n", strings.Join(args, " "))
		printHelp(env.Stderr)
		return 2
	}
	fs := flag.NewFlagSet("ccmhub "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("data", DefaultData, "Badger data directory")
	fs.String("postgres", "", "PostgreSQL URL (instead of --data)")
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	positional, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(env.Stdout, "usage: ccmhub %s %s\n\n%s\n\nflags:\n", cmd.name, cmd.usage, cmd.summary)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		return 0
	}
	if err == nil {
		err = cmd.run(ctx, env, fs, positional)
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(env.Stderr, "ccmhub %s: %v\n", cmd.name, err)
	if errors.Is(err, ErrUsage) {
		fmt.Fprintf(env.Stderr, "usage: ccmhub %s %s\n", cmd.name, cmd.usage)
		return 2
	}
	return 1
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" }

// parseInterspersed parses flags anywhere among args and returns the
// positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, `ccmhub: the national hub of CCM Collect (sync API v1, device enrolment, form publishing).

usage: ccmhub COMMAND [flags]

Every command takes --data DIR (Badger, default `+DefaultData+`) or --postgres URL.
A Badger directory can be opened by one process at a time: stop the hub to
add devices, or use --postgres, where any number of processes share a database.

commands:`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %s %s\n      %s\n", c.name, c.usage, c.summary)
	}
	fmt.Fprintln(w, "\nccmhub COMMAND --help shows one command's flags.")
}

func str(fs *flag.FlagSet, name string) string { return fs.Lookup(name).Value.String() }

// openStore opens the store the flags name. Unless create is set, a
// Badger directory must already hold a hub's data, so that a mistyped
// --data is an error rather than a new, empty hub.
func openStore(ctx context.Context, fs *flag.FlagSet, create bool) (hub.Store, error) {
	if url := str(fs, "postgres"); url != "" {
		if data := fs.Lookup("data"); data.Value.String() != data.DefValue {
			return nil, usagef("give --data or --postgres, not both")
		}
		return openPostgres(ctx, url)
	}
	dir := str(fs, "data")
	if !create {
		if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
			return nil, fmt.Errorf("no hub data in %s (give --data DIR or --postgres URL)", dir)
		}
	}
	s, err := badgerstore.Open(dir)
	if err != nil {
		return nil, err
	}
	return s, nil
}

var programmeRE = regexp.MustCompile(`^[A-Z]{3}$`)
