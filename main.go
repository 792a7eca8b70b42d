// Command ccmcollect is the CCM Collect desktop app; with a subcommand it
// runs headless (see `ccmcollect help`).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ccmcollect/ccmcollect/cli"
)

func main() {
	args := os.Args[1:]
	if cli.IsCommand(args) {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, cli.ProcessEnv(), args)
		stop()
		os.Exit(code)
	}
	os.Exit(runGUI(args))
}
