package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ccmcollect/ccmcollect/forms"
)

func init() {
	register(Command{
		Name:    "form list",
		Usage:   "[--json]",
		Summary: "Lists the forms this program knows (latest version of each).",
		Run:     runFormList,
	})
	register(Command{
		Name:    "form show",
		Usage:   "ID [--version N] [--json]",
		Summary: "Shows a form's questions, choices and rules; --json prints the definition itself.",
		Run:     runFormShow,
	})
	register(Command{
		Name:  "form check",
		Usage: "F.json [F2.json …]",
		Summary: "Checks custom form definitions (- reads standard input) and prints every problem; " +
			"exits 1 if there is any.",
		Run: runFormCheck,
	})
}

// formRegistry returns the forms the form commands show. They need no local
// store, so this is the built-in forms.
var formRegistry = func(_ context.Context, _ *Env) (*forms.Registry, error) {
	return forms.Builtin(), nil
}

// parseInterspersed parses flags that may come before or after positional
// arguments, and returns the positional ones. Other command files use it too.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
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

// newFlags returns a flag set that reports errors instead of printing them.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// formSummary is one line of "form list --json"; its shape is stable.
type formSummary struct {
	ID          string `json:"id"`
	Version     int    `json:"version"`
	Versions    []int  `json:"versions"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Programme   string `json:"programme"`
	Fields      int    `json:"fields"`
}

func runFormList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("form list")
	asJSON := fs.Bool("json", false, "JSON output")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected argument %q", pos[0])
	}
	reg, err := formRegistry(ctx, env)
	if err != nil {
		return err
	}
	versions := map[string][]int{}
	for _, f := range reg.All() {
		versions[f.ID] = append(versions[f.ID], f.Version)
	}
	list := []formSummary{}
	for _, f := range reg.Forms() {
		list = append(list, formSummary{ID: f.ID, Version: f.Version, Versions: versions[f.ID], Title: f.Title,
			Description: f.Description, Programme: f.Programme, Fields: len(f.Fields)})
	}
	if *asJSON {
		return writeFormJSON(env.Stdout, map[string]any{"forms": list})
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tVERSION\tPROGRAMME\tFIELDS\tTITLE")
	for _, s := range list {
		prog := s.Programme
		if prog == "" {
			prog = "all"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", s.ID, s.Version, prog, s.Fields, s.Title)
	}
	return tw.Flush()
}

func writeFormJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runFormShow(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("form show")
	asJSON := fs.Bool("json", false, "print the definition as JSON")
	version := fs.Int("version", 0, "form version (default: latest)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want one form id, got %d arguments", len(pos))
	}
	reg, err := formRegistry(ctx, env)
	if err != nil {
		return err
	}
	var f *forms.Form
	if *version > 0 {
		f, err = reg.Get(pos[0], *version)
	} else {
		f, err = reg.Latest(pos[0])
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeFormJSON(env.Stdout, f)
	}
	return describeForm(env.Stdout, f)
}

// describeForm writes a form for a person: every question with its type,
// choices and rules.
func describeForm(w io.Writer, f *forms.Form) error {
	prog := f.Programme
	if prog == "" {
		prog = "all programmes (built-in)"
	}
	fmt.Fprintf(w, "%s: %s (version %d, %s)\n", f.ID, f.Title, f.Version, prog)
	if f.Description != "" {
		fmt.Fprintf(w, "%s\n", f.Description)
	}
	fmt.Fprintln(w)
	for _, fd := range f.Fields {
		var rules []string
		if fd.Required {
			rules = append(rules, "required")
		}
		if fd.RequiredIf != "" {
			rules = append(rules, "required if "+fd.RequiredIf)
		}
		if fd.Sensitive {
			rules = append(rules, "sensitive")
		}
		switch {
		case fd.Min != nil && fd.Max != nil:
			rules = append(rules, fmt.Sprintf("%v–%v", *fd.Min, *fd.Max))
		case fd.Min != nil && fd.MinExclusive:
			rules = append(rules, fmt.Sprintf("> %v", *fd.Min))
		case fd.Min != nil:
			rules = append(rules, fmt.Sprintf("≥ %v", *fd.Min))
		case fd.Max != nil:
			rules = append(rules, fmt.Sprintf("≤ %v", *fd.Max))
		}
		if fd.MinDate != "" {
			rules = append(rules, "from "+fd.MinDate)
		}
		if fd.MaxDate != "" {
			rules = append(rules, "until "+fd.MaxDate)
		}
		if fd.Pattern != "" {
			rules = append(rules, "pattern "+fd.Pattern)
		}
		if fd.Relevant != "" {
			rules = append(rules, "only when "+fd.Relevant)
		}
		if fd.Calculate != "" {
			rules = append(rules, "= "+fd.Calculate)
		}
		if fd.Default != nil {
			rules = append(rules, fmt.Sprintf("default %v", fd.Default))
		}
		line := fmt.Sprintf("  %-26s %-16s %s", fd.ID, fd.Type, fd.Label)
		if len(rules) > 0 {
			line += " [" + strings.Join(rules, "; ") + "]"
		}
		fmt.Fprintln(w, line)
		if len(fd.Options) > 0 {
			vals := make([]string, len(fd.Options))
			for i, o := range fd.Options {
				vals[i] = o.Value
			}
			fmt.Fprintf(w, "  %-26s choices: %s\n", "", strings.Join(vals, ", "))
		}
		if fd.Type == forms.TypeSADD {
			fmt.Fprintf(w, "  %-26s sexes: %s; age bands: %s\n", "", strings.Join(fd.Sexes, ", "), strings.Join(fd.Bands, ", "))
		}
	}
	if len(f.Constraints) > 0 {
		fmt.Fprintln(w, "\nrules:")
		for _, c := range f.Constraints {
			fmt.Fprintf(w, "  %s: %s (%s)\n", strings.Join(c.Fields, ", "), c.Message, c.Expr)
		}
	}
	return nil
}

func runFormCheck(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("form check")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError("want at least one definition file")
	}
	reg, err := formRegistry(ctx, env)
	if err != nil {
		return err
	}
	bad := 0
	for _, name := range pos {
		var b []byte
		if name == "-" {
			b, err = io.ReadAll(io.LimitReader(env.Stdin, 4<<20))
		} else {
			b, err = os.ReadFile(name)
		}
		if err != nil {
			fmt.Fprintf(env.Stdout, "%s: cannot read: %v\n", name, err)
			bad++
			continue
		}
		f, err := forms.Parse(b)
		var de *forms.DefinitionError
		switch {
		case errors.As(err, &de):
			for _, p := range de.Problems {
				fmt.Fprintf(env.Stdout, "%s: %s\n", name, p)
			}
			bad++
			continue
		case err != nil:
			fmt.Fprintf(env.Stdout, "%s: %v\n", name, err)
			bad++
			continue
		}
		// A published version never changes: clashing with a known form
		// version that has other content is a problem too.
		if _, err := reg.Get(f.ID, f.Version); err == nil {
			if err := reg.Add(f); err != nil { // a no-op when the content is the same
				fmt.Fprintf(env.Stdout, "%s: form %s version %d already exists with different content; use a new version number\n", name, f.ID, f.Version)
				bad++
				continue
			}
		}
		fmt.Fprintf(env.Stdout, "%s: ok: form %s version %d, %d fields, %d rules\n", name, f.ID, f.Version, len(f.Fields), len(f.Constraints))
	}
	if bad > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d definitions have problems", bad, len(pos))}
	}
	return nil
}
