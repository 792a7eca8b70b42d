// Command ccmhub is the national hub of CCM Collect: the sync API v1 server,
// device enrolment and form publishing (see `ccmhub help`).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ccmcollect/ccmcollect/hub/command"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := command.Run(ctx, command.ProcessEnv(), os.Args[1:])
	stop()
	os.Exit(code)
}
