package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/ccmcollect/ccmcollect/app"
	"github.com/ccmcollect/ccmcollect/cli"
)

// runGUI opens the desktop app: `ccmcollect [--data DIR] [--demo]
// [--demo-records N] [--lock-after DURATION]`. It returns the process exit code.
func runGUI(args []string) int {
	fs := flag.NewFlagSet("ccmcollect", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dataDir := fs.String("data", cli.DefaultDataDir(), "data directory of the local store")
	demo := fs.Bool("demo", false, "open a throwaway store filled with generated demo data")
	demoRecords := fs.Int("demo-records", 3000, "size of the demo data set")
	lockAfter := fs.Duration("lock-after", 10*time.Minute, "lock after this long without input (0 = never)")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "ccmcollect: %v\ntry `ccmcollect help`\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ccmcollect: unknown command %q\ntry `ccmcollect help`\n", fs.Arg(0))
		return 2
	}
	// A --lock-after given on the command line wins over the time saved in
	// Settings; without it, the flag's default applies until unlock.
	lockGiven := false
	fs.Visit(func(f *flag.Flag) { lockGiven = lockGiven || f.Name == "lock-after" })
	idle := *lockAfter
	if idle <= 0 {
		idle = -1 // never
	}
	a := fyneapp.NewWithID("org.ccmcollect.app")
	ui := app.New(a, app.Options{
		DataDir:        *dataDir,
		Demo:           *demo,
		DemoRecords:    *demoRecords,
		Background:     true,
		IdleLock:       idle,
		LockAfterFixed: lockGiven,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	// SIGINT/SIGTERM quit like closing the window, so Close still runs
	// (and removes the demo store).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sig; ok {
			fyne.Do(a.Quit)
		}
	}()
	ui.Window().ShowAndRun()
	signal.Stop(sig)
	close(sig)
	if err := ui.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "ccmcollect: closing: %v\n", err)
		return 1
	}
	return 0
}
