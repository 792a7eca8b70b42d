package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/ccmcollect/ccmcollect/reports"
)

func init() {
	register(Command{
		Name:    "export",
		Usage:   "--form ID --format csv --out F.csv [--hxl] [--include-personal]",
		Summary: "export the current records of a form as CSV (personal fields left out unless asked)",
		Run:     runExport,
	})
}

func runExport(ctx context.Context, env *Env, args []string) error {
	fs := reportFlags("export")
	formID := fs.String("form", "", "form id")
	format := fs.String("format", "csv", "output format (csv)")
	out := fs.String("out", "", "file to write")
	hxl := fs.Bool("hxl", false, "add a second header row of HXL hashtags")
	personal := fs.Bool("include-personal", false, "include personal fields (name, contact)")
	pos, err := reportArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected argument %q", pos[0])
	}
	if *formID == "" || *out == "" {
		return usageError("--form and --out are required")
	}
	if *format != "csv" {
		return usageError("--format %q: only csv is supported", *format)
	}
	reg, err := formRegistry(ctx, env)
	if err != nil {
		return err
	}
	if _, err := reg.Latest(*formID); err != nil {
		return fmt.Errorf("--form %s: %w", *formID, err)
	}
	st, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	pr := newProgress(env.Stderr)
	var n int
	err = writeFileAtomic(*out, func(w io.Writer) error {
		var err error
		n, err = reports.WriteCSV(ctx, w, st, reg, *formID, reports.CSVOptions{
			HXL: *hxl, IncludePersonal: *personal,
			Progress: func(rows int) { pr.printf("exporting %s: %d records", *formID, rows) },
		})
		return err
	})
	if n >= reports.ProgressEvery {
		pr.done()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %d records to %s\n", n, *out)
	return nil
}
