package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ccmcollect/ccmcollect/storage"
	ccmsync "github.com/ccmcollect/ccmcollect/sync"
	"golang.org/x/term"
)

// passphraseEnv names the environment variable that holds the passphrase of
// the local store for headless use.
const passphraseEnv = "CCMCOLLECT_PASSPHRASE"

// ErrNoStore reports a data directory without a local store, given to a
// command that only reads or syncs what is already there.
var ErrNoStore = errors.New("no store")

// openStore opens the existing encrypted store in env.DataDir. It never
// creates one: a mistyped --data or a fresh directory fails with ErrNoStore
// before the passphrase is asked for, and the directory is left untouched.
// The passphrase comes from CCMCOLLECT_PASSPHRASE or, when it is not set,
// from one line of env.Stdin after a prompt on env.Stderr.
func openStore(ctx context.Context, env *Env) (*storage.Store, error) {
	if !storage.Exists(env.DataDir) {
		return nil, fmt.Errorf("%w in %s (create one with \"record add\" or \"hub connect\", or check --data)", ErrNoStore, env.DataDir)
	}
	return unlockStore(ctx, env, false)
}

// openOrCreateStore opens the store in env.DataDir, creating it when there
// is none. Only the commands that create data (record add, record import,
// hub connect) use it. A new store's passphrase typed at a terminal is asked
// for twice, and a mismatch creates nothing.
func openOrCreateStore(ctx context.Context, env *Env) (*storage.Store, error) {
	create := !storage.Exists(env.DataDir)
	st, err := unlockStore(ctx, env, create)
	if err == nil && create {
		fmt.Fprintf(env.Stderr, "created a new local store in %s\n", env.DataDir)
	}
	return st, err
}

func unlockStore(ctx context.Context, env *Env, create bool) (*storage.Store, error) {
	pass, err := readPassphrase(env, create)
	if err != nil {
		return nil, err
	}
	st, err := storage.Open(ctx, storage.Options{Dir: env.DataDir, Passphrase: pass, Now: env.Now})
	if err != nil {
		return nil, fmt.Errorf("opening the store in %s: %w", env.DataDir, err)
	}
	// The custom forms the hub served at the last sync, so records of them
	// can be added, checked and exported offline. A damaged copy is only a
	// warning: the built-in forms still work and the next sync replaces it.
	if err := ccmsync.LoadStoredForms(ctx, st, st.Forms()); err != nil {
		fmt.Fprintf(env.Stderr, "warning: the hub's custom forms were not loaded: %v\n", err)
	}
	return st, nil
}

// stdinTerminal reports whether r is an interactive terminal; a variable so
// that tests can drive the confirmation prompt without one.
var stdinTerminal = func(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readPassphrase returns the store passphrase from the environment or asks
// for it. With confirm, a passphrase typed at a terminal is asked for a
// second time and must match; piped input is read once, as scripts give it.
// The passphrase itself is never printed.
func readPassphrase(env *Env, confirm bool) ([]byte, error) {
	if env.Getenv != nil {
		if p := env.Getenv(passphraseEnv); p != "" {
			return []byte(p), nil
		}
	}
	if env.Stdin == nil {
		return nil, fmt.Errorf("no passphrase: set %s", passphraseEnv)
	}
	interactive := stdinTerminal(env.Stdin)
	prompt := "Passphrase of the local store: "
	if confirm {
		prompt = "Passphrase of the new local store in " + env.DataDir + ": "
	}
	line, err := promptSecret(env, prompt, interactive)
	if err != nil {
		return nil, fmt.Errorf("reading passphrase: %w", err)
	}
	if line == "" {
		return nil, fmt.Errorf("no passphrase given (set %s or type it)", passphraseEnv)
	}
	if confirm && interactive {
		again, err := promptSecret(env, "Type it again: ", interactive)
		if err != nil {
			return nil, fmt.Errorf("reading passphrase: %w", err)
		}
		if again != line {
			return nil, errors.New("the two passphrases differ; no store was created")
		}
	}
	return []byte(line), nil
}

// promptSecret prints prompt on env.Stderr and reads one line from
// env.Stdin, without echo at a terminal. Piped input is read byte by byte,
// so that the lines after it stay unread.
func promptSecret(env *Env, prompt string, interactive bool) (string, error) {
	fmt.Fprint(env.Stderr, prompt)
	defer fmt.Fprintln(env.Stderr)
	if f, ok := env.Stdin.(*os.File); ok && interactive {
		b, err := term.ReadPassword(int(f.Fd())) // no echo
		return string(b), err
	}
	return readOneLine(env.Stdin)
}
