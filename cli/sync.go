package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	ccmsync "github.com/ccmcollect/ccmcollect/sync"
)

func init() {
	register(Command{
		Name:  "sync",
		Usage: "[--json]",
		Summary: "Pushes the outbox to the hub and pulls the programme's changes, then prints what moved: " +
			"pushed, duplicates, pulled, rejected and conflicts (--json: one stable JSON object).",
		Run: runSync,
	})
}

// syncOutput is the stable --json output of "sync".
type syncOutput struct {
	ccmsync.Result
	// Pending counts outbox entries still waiting for the hub.
	Pending int `json:"pending"`
	// RejectedWaiting counts rejected entries kept for the user to fix.
	RejectedWaiting int `json:"rejected_waiting"`
}

func runSync(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	st, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	eng, err := ccmsync.New(ccmsync.Options{Store: st, Now: env.Now})
	if err != nil {
		return err
	}
	defer eng.Close()
	res, err := eng.SyncNow(ctx)
	if err != nil {
		return err
	}
	out := syncOutput{Result: res}
	if out.Pending, err = st.OutboxLen(ctx); err != nil {
		return err
	}
	rejected, err := st.Rejected(ctx)
	if err != nil {
		return err
	}
	out.RejectedWaiting = len(rejected)
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		return enc.Encode(out)
	}
	fmt.Fprintf(env.Stdout, "pushed %d, duplicates %d, pulled %d, rejected %d, conflicts %d (%d bytes)\n",
		res.Pushed, res.Duplicates, res.Pulled, res.Rejected, res.Conflicts, res.Bytes)
	if out.Pending > 0 {
		fmt.Fprintf(env.Stdout, "%s still waiting for the hub\n", plural(out.Pending, "revision", "revisions"))
	}
	// Rejections name the record and the hub's reason, never field values.
	for _, r := range rejected {
		fmt.Fprintf(env.Stdout, "rejected: record %s (%s) revision %s: %s\n", r.Rev.RecordID, r.Rev.FormID, r.Rev.Rev, r.Rejection)
	}
	return nil
}
