package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	ccmsync "github.com/ccmcollect/ccmcollect/sync"
)

func init() {
	register(Command{
		Name:  "hub connect",
		Usage: "--url URL --token T|- [--insecure]",
		Summary: "Connects this store to a hub: checks the device token with the hub, then keeps the URL and " +
			"the token in the encrypted store. --token - reads the token from standard input. Plain http:// " +
			"is refused for hosts other than this machine unless --insecure is given.",
		Run: runHubConnect,
	})
}

func runHubConnect(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("hub connect", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	hubURL := fs.String("url", "", "hub URL")
	token := fs.String("token", "", "device token, or - for standard input")
	insecure := fs.Bool("insecure", false, "allow plain http:// to another host")
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	switch {
	case fs.NArg() > 0:
		return usageError("unexpected argument %q", fs.Arg(0))
	case *hubURL == "":
		return usageError("--url is required")
	case *token == "":
		return usageError("--token is required")
	}
	tok := *token
	if tok == "-" {
		line, err := readOneLine(env.Stdin)
		if err != nil {
			return fmt.Errorf("reading token from standard input: %w", err)
		}
		tok = strings.TrimSpace(line)
	}
	// Check the URL before asking for the passphrase.
	if _, err := ccmsync.CheckURL(*hubURL, *insecure); err != nil {
		return err
	}
	st, err := openOrCreateStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	w, err := ccmsync.Connect(ctx, st, *hubURL, tok, *insecure)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "connected to %s\nprogramme: %s\ndevice: %s (%s)\nrole: %s\n",
		strings.TrimRight(*hubURL, "/"), w.Programme, w.Name, w.DeviceID, w.Role)
	return nil
}

// readOneLine reads one line byte by byte, so that what follows it on r (a
// passphrase line, for example) stays unread.
func readOneLine(r io.Reader) (string, error) {
	var b strings.Builder
	var c [1]byte
	for b.Len() < 4096 {
		n, err := r.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				break
			}
			b.WriteByte(c[0])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimRight(b.String(), "\r"), nil
}
