package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/ccmcollect/ccmcollect/reports"
	"github.com/ccmcollect/ccmcollect/storage"
	ccmsync "github.com/ccmcollect/ccmcollect/sync"
)

func init() {
	register(Command{
		Name:    "report needs",
		Usage:   "--out F.pdf [--from DATE] [--to DATE] [--adm1 NAME] [--json F.json] [--suppress N] [--page a4|letter]",
		Summary: "print the needs-assessment PDF (and its figures as JSON) from the local store",
		Run:     runReportNeeds,
	})
	register(Command{
		Name:    "report record",
		Usage:   "ID --out F.pdf [--include-personal] [--page a4|letter]",
		Summary: "print the case sheet of one record with its revision history",
		Run:     runReportRecord,
	})
}

// SettingLastSync is the store setting that holds the time (RFC 3339) of
// the last successful sync; the sync engine writes it.
const SettingLastSync = ccmsync.SettingLastSuccess

// progress writes a progress line on stderr, rewritten in place on a
// terminal; elsewhere (a log, a pipe) only the last state is written, once.
type progress struct {
	w    io.Writer
	last string
}

func newProgress(w io.Writer) *progress { return &progress{w: w} }

func (p *progress) printf(format string, args ...any) {
	p.last = fmt.Sprintf(format, args...)
	if isTerminal(p.w) {
		fmt.Fprintf(p.w, "\r%s\033[K", p.last)
	}
}

func (p *progress) done() {
	if isTerminal(p.w) {
		fmt.Fprintln(p.w)
	} else if p.last != "" {
		fmt.Fprintln(p.w, p.last)
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func parseDay(flagName, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, usageError("--%s %q: want a date as YYYY-MM-DD", flagName, v)
	}
	return t, nil
}

// writeFileAtomic writes a file through a temporary file in the same
// directory, so a failure never leaves a half-written report behind.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".ccmcollect-*")
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func runReportNeeds(ctx context.Context, env *Env, args []string) error {
	fs := reportFlags("report needs")
	out := fs.String("out", "", "PDF file to write")
	from := fs.String("from", "", "first day of the period (YYYY-MM-DD)")
	to := fs.String("to", "", "last day of the period (YYYY-MM-DD)")
	adm1 := fs.String("adm1", "", "only this province")
	jsonOut := fs.String("json", "", "also write the figures as JSON to this file")
	suppress := fs.Int("suppress", 0, "show people counts under N as \"<N\" (5 when the summary leaves the country)")
	page := fs.String("page", "a4", "paper size: a4 or letter")
	pos, err := reportArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected argument %q", pos[0])
	}
	if *out == "" {
		return usageError("--out is required")
	}
	size, err := reports.ParsePageSize(*page)
	if err != nil {
		return usageError("--page: %v", err)
	}
	if *suppress < 0 {
		return usageError("--suppress must not be negative")
	}
	f := reports.Filter{Adm1: *adm1, SuppressBelow: *suppress}
	if f.From, err = parseDay("from", *from); err != nil {
		return err
	}
	if f.To, err = parseDay("to", *to); err != nil {
		return err
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return usageError("--to %s is before --from %s", *to, *from)
	}
	reg, err := formRegistry(ctx, env)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	meta, err := reportMeta(ctx, st, env)
	if err != nil {
		return err
	}
	pr := newProgress(env.Stderr)
	f.Progress = func(formID string, n int) { pr.printf("reading %s: %d records", formID, n) }
	rep, err := reports.Build(ctx, st, reg, f, meta)
	pr.done()
	if err != nil {
		return err
	}
	if *jsonOut != "" {
		err := writeFileAtomic(*jsonOut, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		})
		if err != nil {
			return err
		}
	}
	if err := writeFileAtomic(*out, func(w io.Writer) error { return reports.WriteNeedsPDF(w, rep, size) }); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s\n", *out)
	return nil
}

// reportMeta fills the cover of a report from the store's identity.
func reportMeta(ctx context.Context, st *storage.Store, env *Env) (reports.Meta, error) {
	id, err := st.Identity(ctx)
	if err != nil {
		return reports.Meta{}, fmt.Errorf("reading the device identity: %w", err)
	}
	m := reports.Meta{State: id.Programme, Programme: id.Programme, GeneratedAt: env.Now(), Device: id.DeviceName}
	if m.Device == "" {
		m.Device = id.DeviceID
	}
	if b, err := st.Setting(ctx, SettingLastSync); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b))); err == nil {
			m.LastSync = t
		}
	} else if !errors.Is(err, storage.ErrNotFound) {
		return reports.Meta{}, fmt.Errorf("reading the last sync time: %w", err)
	}
	return m, nil
}

func runReportRecord(ctx context.Context, env *Env, args []string) error {
	fs := reportFlags("report record")
	out := fs.String("out", "", "PDF file to write")
	personal := fs.Bool("include-personal", false, "print personal fields (name, contact)")
	page := fs.String("page", "a4", "paper size: a4 or letter")
	pos, err := reportArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want exactly one record ID")
	}
	if *out == "" {
		return usageError("--out is required")
	}
	size, err := reports.ParsePageSize(*page)
	if err != nil {
		return usageError("--page: %v", err)
	}
	reg, err := formRegistry(ctx, env)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	hist, err := st.History(ctx, pos[0])
	if err != nil {
		return fmt.Errorf("record %s: %w", pos[0], err)
	}
	if len(hist) == 0 {
		return fmt.Errorf("record %s has no saved revision (only a draft?): %w", pos[0], reports.ErrNoHistory)
	}
	meta, err := reportMeta(ctx, st, env)
	if err != nil {
		return err
	}
	opt := reports.CaseSheetOptions{IncludePersonal: *personal, Size: size, GeneratedAt: meta.GeneratedAt, Device: meta.Device}
	if err := writeFileAtomic(*out, func(w io.Writer) error { return reports.WriteCaseSheet(w, hist, reg, opt) }); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s\n", *out)
	return nil
}

// reportFlags returns a quiet flag set for the report and export commands.
func reportFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// reportArgs parses flags that may come before or after positional
// arguments and returns the positional ones.
func reportArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError("%v", err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		args = fs.Args()
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
