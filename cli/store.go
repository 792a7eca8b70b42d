package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ccmcollect/ccmcollect/storage"
	"golang.org/x/term"
)

// passphraseEnv names the environment variable that holds the passphrase of
// the local store for headless use.
const passphraseEnv = "CCMCOLLECT_PASSPHRASE"

// openStore opens (or creates on first use) the encrypted store in
// env.DataDir. The passphrase comes from CCMCOLLECT_PASSPHRASE or, when it
// is not set, from one line of env.Stdin after a prompt on env.Stderr.
func openStore(ctx context.Context, env *Env) (*storage.Store, error) {
	pass, err := readPassphrase(env)
	if err != nil {
		return nil, err
	}
	st, err := storage.Open(ctx, storage.Options{Dir: env.DataDir, Passphrase: pass, Now: env.Now})
	if err != nil {
		return nil, fmt.Errorf("opening the store in %s: %w", env.DataDir, err)
	}
	return st, nil
}

// readPassphrase returns the store passphrase from the environment or asks
// for it. The passphrase itself is never printed.
func readPassphrase(env *Env) ([]byte, error) {
	if env.Getenv != nil {
		if p := env.Getenv(passphraseEnv); p != "" {
			return []byte(p), nil
		}
	}
	if env.Stdin == nil {
		return nil, fmt.Errorf("no passphrase: set %s", passphraseEnv)
	}
	fmt.Fprint(env.Stderr, "Passphrase of the local store: ")
	var line string
	var err error
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		var b []byte
		b, err = term.ReadPassword(int(f.Fd())) // no echo
		line = string(b)
	} else {
		line, err = readLine(env.Stdin)
	}
	fmt.Fprintln(env.Stderr)
	if err != nil {
		return nil, fmt.Errorf("reading passphrase: %w", err)
	}
	if line == "" {
		return nil, fmt.Errorf("no passphrase given (set %s or type it)", passphraseEnv)
	}
	return []byte(line), nil
}

func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
