package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/storage"
)

func init() {
	register(Command{
		Name: "record add", Usage: "--form ID --file F.json [--draft] [--json]",
		Summary: "Saves the data object in F.json as a new record (validated, queued for the hub) or, with --draft, " +
			"as a local draft; prints the new record id on the last line. Creates the local store in --data if there is none.",
		Run: runRecordAdd,
	})
	register(Command{
		Name: "record import", Usage: "--form ID --file F.jsonl|F.csv [--json]",
		Summary: "Imports one record per JSON line or CSV row (header = the form's columns), all or nothing: " +
			"on any invalid line nothing is saved and every failing line is listed. The record_id, rev and " +
			"saved_at columns and the HXL hashtag row of an \"export\" file are ignored: each row becomes a new record.",
		Run: runRecordImport,
	})
	register(Command{
		Name: "record edit", Usage: "ID --file F.json [--json]",
		Summary: "Saves F.json as a new revision of record ID; on a conflicted record this is the merge of all leaves.",
		Run:     runRecordEdit,
	})
	register(Command{
		Name: "record delete", Usage: "ID [--json]",
		Summary: "Saves a deletion revision of record ID; its history is kept.",
		Run:     runRecordDelete,
	})
	register(Command{
		Name: "record list", Usage: "[--form ID] [--status S] [--adm1 NAME] [--text T] [--from DATE] [--to DATE] [--limit N] [--cursor C] [--json]",
		Summary: "Lists records newest first without personal data; --text searches non-personal values.",
		Run:     runRecordList,
	})
	register(Command{
		Name: "record show", Usage: "ID [--include-personal] [--history] [--json]",
		Summary: "Shows a record's current data with calculated fields; personal fields are hidden unless --include-personal.",
		Run:     runRecordShow,
	})
}

// parseInterleaved parses flags that may come before or after positional
// arguments and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError("%v", err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func readDataFile(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", path, err)
	}
	if data == nil {
		return nil, fmt.Errorf("%s: not a JSON object", path)
	}
	return data, nil
}

// reportInvalid prints every problem of a validation error and returns an
// exit-status-1 error; other errors are returned as they are.
// With asJSON the problems also go to stdout as {"errors": [problem, …]}.
func reportInvalid(env *Env, err error, asJSON bool) error {
	var ve *forms.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	for _, p := range ve.Problems {
		fmt.Fprintf(env.Stderr, "invalid: %s: %s: %s\n", p.Field, p.Rule, p.Message)
	}
	if asJSON {
		json.NewEncoder(env.Stdout).Encode(struct {
			Errors []forms.Problem `json:"errors"`
		}{ve.Problems})
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("%s in the %s data", plural(len(ve.Problems), "problem", "problems"), ve.FormID)}
}

// plural returns n followed by one or many, as n calls for.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// savedOutput is the stable --json output of add, edit and delete.
type savedOutput struct {
	ID     string `json:"id"`
	Rev    string `json:"rev,omitempty"`
	Status string `json:"status"`
}

// printSaved prints the record id alone on stdout, so that
// id=$(ccmcollect record add …) works, and what happened on stderr.
func printSaved(env *Env, asJSON bool, out savedOutput) error {
	if asJSON {
		return json.NewEncoder(env.Stdout).Encode(out)
	}
	switch {
	case out.Rev != "":
		fmt.Fprintf(env.Stderr, "revision %s (%s)\n", out.Rev, out.Status)
	case out.Status == "discarded":
		fmt.Fprintf(env.Stderr, "draft discarded\n")
	default:
		fmt.Fprintf(env.Stderr, "draft saved\n")
	}
	fmt.Fprintln(env.Stdout, out.ID)
	return nil
}

func runRecordAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("record add")
	formID := fs.String("form", "", "form id")
	file := fs.String("file", "", "JSON data file")
	draft := fs.Bool("draft", false, "save as a local draft")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageError("unexpected argument %q", pos[0])
	case *formID == "" || *file == "":
		return usageError("--form and --file are required")
	}
	data, err := readDataFile(*file)
	if err != nil {
		return err
	}
	st, err := openOrCreateStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	if *draft {
		id, err := st.SaveDraft(ctx, "", *formID, data)
		if err != nil {
			return reportInvalid(env, err, *asJSON)
		}
		return printSaved(env, *asJSON, savedOutput{ID: id, Status: string(storage.StatusDraft)})
	}
	rev, err := st.Create(ctx, *formID, data)
	if err != nil {
		return reportInvalid(env, err, *asJSON)
	}
	return printSaved(env, *asJSON, savedOutput{ID: rev.RecordID, Rev: rev.Rev, Status: string(storage.StatusPending)})
}

func runRecordEdit(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("record edit")
	file := fs.String("file", "", "JSON data file")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *file == "" {
		return usageError("one record id and --file are required")
	}
	data, err := readDataFile(*file)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	rev, err := st.Edit(ctx, pos[0], data)
	if err != nil {
		return reportInvalid(env, err, *asJSON)
	}
	return printSaved(env, *asJSON, savedOutput{ID: rev.RecordID, Rev: rev.Rev, Status: string(storage.StatusPending)})
}

func runRecordDelete(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("record delete")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("one record id is required")
	}
	st, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	rev, err := st.Delete(ctx, pos[0])
	if errors.Is(err, storage.ErrDraftOnly) {
		// Never finalised: nothing travelled, so the draft simply goes.
		if err := st.DiscardDraft(ctx, pos[0]); err != nil {
			return err
		}
		return printSaved(env, *asJSON, savedOutput{ID: pos[0], Status: "discarded"})
	}
	if err != nil {
		return err
	}
	return printSaved(env, *asJSON, savedOutput{ID: rev.RecordID, Rev: rev.Rev, Status: "deleted"})
}

// exportOnlyColumns are the columns "ccmcollect export" writes before the
// form's own: an import ignores them (unless the form has a field of that
// name), so that an export imports again as new records.
// unquoteFormula undoes the quote that export puts before a text cell a
// spreadsheet would run as a formula ('=…, '+…, '-…, '@…).
func unquoteFormula(v string) string {
	if len(v) >= 2 && v[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(v[1])) {
		return v[1:]
	}
	return v
}

var exportOnlyColumns = map[string]bool{"record_id": true, "rev": true, "saved_at": true}

// isHXLRow reports whether rec is an HXL hashtag row: every non-empty cell
// starts with '#', and at least one is non-empty.
func isHXLRow(rec []string) bool {
	seen := false
	for _, c := range rec {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.HasPrefix(c, "#") {
			return false
		}
		seen = true
	}
	return seen
}

// importLine is one data line of an import file and its line number.
type importLine struct {
	line int
	data map[string]any
}

// readImport reads a .jsonl or .csv file into rows; problems lists every line
// that could not even be read as data.
func readImport(f *forms.Form, path string) ([]importLine, []storage.RowError, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var rows []importLine
	var bad []storage.RowError
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson":
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			var data map[string]any
			if err := json.Unmarshal([]byte(line), &data); err != nil || data == nil {
				msg := "not a JSON object"
				if err != nil {
					msg = err.Error()
				}
				bad = append(bad, storage.RowError{Line: n, Problems: []forms.Problem{{Rule: "json", Message: msg}}})
				continue
			}
			rows = append(rows, importLine{n, data})
		}
		if err := sc.Err(); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	case ".csv":
		r := csv.NewReader(bytes.NewReader(b))
		r.FieldsPerRecord = -1
		header, err := r.Read()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: reading the header: %w", path, err)
		}
		known := map[string]bool{}
		for _, c := range f.Columns() {
			known[c] = true
		}
		ignored := make([]bool, len(header))
		for i, h := range header {
			switch {
			case known[h]:
			case exportOnlyColumns[h]:
				ignored[i] = true
			default:
				return nil, nil, fmt.Errorf("%s: column %q is not a column of form %s", path, h, f.ID)
			}
		}
		for first := true; ; first = false {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			line, _ := r.FieldPos(0)
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					return nil, nil, fmt.Errorf("%s: %w", path, err)
				}
				return nil, nil, err
			}
			if first && isHXLRow(rec) {
				continue // the hashtag row of an export --hxl
			}
			if len(rec) != len(header) {
				bad = append(bad, storage.RowError{Line: line, Problems: []forms.Problem{{Rule: "csv",
					Message: fmt.Sprintf("%d cells, the header has %d", len(rec), len(header))}}})
				continue
			}
			cells := make(map[string]string, len(rec))
			for i, v := range rec {
				if !ignored[i] {
					cells[header[i]] = unquoteFormula(v)
				}
			}
			data, err := f.Unflatten(cells)
			if err != nil {
				bad = append(bad, storage.RowError{Line: line, Problems: []forms.Problem{{Rule: "csv", Message: err.Error()}}})
				continue
			}
			rows = append(rows, importLine{line, data})
		}
	default:
		return nil, nil, usageError("--file must end in .jsonl or .csv")
	}
	return rows, bad, nil
}

// importOutput is the stable --json output of record import.
type importOutput struct {
	Imported int              `json:"imported"`
	Errors   []importRowError `json:"errors,omitempty"`
}

type importRowError struct {
	Line     int             `json:"line"`
	Problems []forms.Problem `json:"problems"`
}

func runRecordImport(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("record import")
	formID := fs.String("form", "", "form id")
	file := fs.String("file", "", "JSONL or CSV file")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageError("unexpected argument %q", pos[0])
	case *formID == "" || *file == "":
		return usageError("--form and --file are required")
	}
	st, err := openOrCreateStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	f, err := st.Forms().Latest(*formID)
	if err != nil {
		return err
	}
	lines, bad, err := readImport(f, *file)
	if err != nil {
		return err
	}
	rows := make([]map[string]any, len(lines))
	for i, l := range lines {
		rows[i] = l.data
	}
	n, err := 0, error(nil)
	var ie *storage.ImportError
	if len(bad) == 0 {
		n, err = st.Import(ctx, *formID, rows)
		if errors.As(err, &ie) {
			for _, r := range ie.Rows {
				bad = append(bad, storage.RowError{Line: lines[r.Line-1].line, Problems: r.Problems})
			}
			err = nil
		}
	} else {
		// Report validation problems of the readable lines too, so one run lists everything.
		for _, l := range lines {
			if verr := f.Validate(l.data, recordClock(env)); verr != nil {
				var ve *forms.ValidationError
				if errors.As(verr, &ve) {
					bad = append(bad, storage.RowError{Line: l.line, Problems: ve.Problems})
				}
			}
		}
	}
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		sortRowErrors(bad)
		out := importOutput{}
		for _, r := range bad {
			out.Errors = append(out.Errors, importRowError{Line: r.Line, Problems: r.Problems})
			if !*asJSON {
				for _, p := range r.Problems {
					fmt.Fprintf(env.Stderr, "line %d: %s: %s: %s\n", r.Line, p.Field, p.Rule, p.Message)
				}
			}
		}
		if *asJSON {
			json.NewEncoder(env.Stdout).Encode(out)
		}
		return &ExitError{Code: 1, Err: fmt.Errorf("%s; nothing was imported", plural(len(bad), "invalid line", "invalid lines"))}
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(importOutput{Imported: n})
	}
	fmt.Fprintf(env.Stdout, "imported %s\n", plural(n, "record", "records"))
	return nil
}

func sortRowErrors(r []storage.RowError) {
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && r[j].Line < r[j-1].Line; j-- {
			r[j], r[j-1] = r[j-1], r[j]
		}
	}
}

func recordClock(env *Env) time.Time {
	if env.Now != nil {
		return env.Now()
	}
	return time.Now()
}

// listOutput is the stable --json output of record list.
type listOutput struct {
	Records []listItem `json:"records"`
	Next    string     `json:"next,omitempty"`
}

type listItem struct {
	ID        string    `json:"id"`
	FormID    string    `json:"form_id"`
	Status    string    `json:"status"`
	Title     string    `json:"title"`
	Adm1      string    `json:"adm1,omitempty"`
	Date      string    `json:"date,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

func runRecordList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("record list")
	var q storage.Query
	fs.StringVar(&q.FormID, "form", "", "form id")
	status := fs.String("status", "", "draft, pending, synced, rejected or conflict")
	fs.StringVar(&q.Adm1, "adm1", "", "province")
	fs.StringVar(&q.Text, "text", "", "search text")
	from := fs.String("from", "", "first date YYYY-MM-DD")
	to := fs.String("to", "", "last date YYYY-MM-DD")
	fs.IntVar(&q.Limit, "limit", 50, "page size")
	fs.StringVar(&q.Cursor, "cursor", "", "next page cursor")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected argument %q", pos[0])
	}
	q.Status = storage.Status(*status)
	for _, d := range []struct {
		s   string
		dst *time.Time
	}{{*from, &q.From}, {*to, &q.To}} {
		if d.s == "" {
			continue
		}
		if *d.dst, err = time.Parse(time.DateOnly, d.s); err != nil {
			return usageError("bad date %q (YYYY-MM-DD)", d.s)
		}
	}
	st, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := st.List(ctx, q)
	if err != nil {
		return err
	}
	out := listOutput{Records: []listItem{}, Next: p.Next}
	for _, r := range p.Records {
		out.Records = append(out.Records, listItem{r.ID, r.FormID, string(r.Status), r.Title, r.Adm1, r.Date, r.UpdatedAt})
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(out)
	}
	for _, r := range out.Records {
		fmt.Fprintf(env.Stdout, "%s  %-21s %-9s %-10s %-16s %s\n", r.ID, r.FormID, r.Status, r.Date, r.Adm1, r.Title)
	}
	if p.Next != "" {
		fmt.Fprintf(env.Stdout, "more: --cursor %s\n", p.Next)
	}
	return nil
}

// showOutput is the stable --json output of record show.
type showOutput struct {
	ID          string             `json:"id"`
	FormID      string             `json:"form_id"`
	FormVersion int                `json:"form_version"`
	Status      string             `json:"status"`
	Deleted     bool               `json:"deleted"`
	Conflicted  bool               `json:"conflicted"`
	Rev         string             `json:"rev,omitempty"`
	Leaves      []record.Leaf      `json:"leaves"`
	Rejection   string             `json:"rejection,omitempty"`
	Data        map[string]any     `json:"data,omitempty"`
	Draft       map[string]any     `json:"draft,omitempty"`
	UpdatedAt   time.Time          `json:"updated_at"`
	History     []*record.Revision `json:"history,omitempty"`
}

// hiddenValue replaces personal values unless --include-personal is given.
const hiddenValue = "(hidden)"

func runRecordShow(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("record show")
	personal := fs.Bool("include-personal", false, "show personal fields")
	history := fs.Bool("history", false, "include every revision")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("one record id is required")
	}
	st, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := st.Get(ctx, pos[0])
	if err != nil {
		return err
	}
	f, ferr := st.Forms().Get(r.FormID, r.FormVersion)
	hide := func(d map[string]any) map[string]any {
		if len(d) == 0 {
			return d
		}
		if ferr != nil {
			// Without the definition nothing says which fields are
			// personal: hide every value unless --include-personal.
			if *personal {
				return d
			}
			out := make(map[string]any, len(d))
			for k := range d {
				out[k] = hiddenValue
			}
			return out
		}
		d = f.Compute(d)
		if !*personal {
			for _, k := range f.SensitiveFields() {
				if _, ok := d[k]; ok {
					d[k] = hiddenValue
				}
			}
		}
		return d
	}
	out := showOutput{ID: r.ID, FormID: r.FormID, FormVersion: r.FormVersion, Status: string(r.Status),
		Deleted: r.Deleted(), Conflicted: r.Conflicted, Leaves: r.Leaves, Rejection: r.Rejection,
		Draft: hide(r.Draft), UpdatedAt: r.UpdatedAt}
	if out.Leaves == nil {
		out.Leaves = []record.Leaf{}
	}
	if r.Current != nil {
		out.Rev = r.Current.Rev
		if !r.Current.Deleted {
			out.Data = hide(r.Current.Data)
		}
	}
	if *history {
		h, err := st.History(ctx, r.ID)
		if err != nil {
			return err
		}
		for _, rv := range h {
			rv.Data = hide(rv.Data)
		}
		out.History = h
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(env.Stdout, "record %s (%s v%d)\nstatus: %s\n", out.ID, out.FormID, out.FormVersion, out.Status)
	if out.Deleted {
		fmt.Fprintln(env.Stdout, "deleted")
	}
	if out.Rev != "" {
		fmt.Fprintf(env.Stdout, "revision: %s\n", out.Rev)
	}
	if out.Conflicted {
		fmt.Fprintf(env.Stdout, "conflict between %d revisions; 'record edit' saves the merge\n", len(out.Leaves))
	}
	if out.Rejection != "" {
		fmt.Fprintf(env.Stdout, "rejected by the hub: %s\n", out.Rejection)
	}
	printData := func(title string, d map[string]any) {
		if d == nil {
			return
		}
		fmt.Fprintln(env.Stdout, title)
		ids := make([]string, 0, len(d))
		if ferr == nil {
			for _, fd := range f.Fields {
				if _, ok := d[fd.ID]; ok {
					ids = append(ids, fd.ID)
				}
			}
		}
		if len(ids) != len(d) {
			ids = ids[:0]
			for k := range d {
				ids = append(ids, k)
			}
		}
		for _, k := range ids {
			v, _ := json.Marshal(d[k])
			fmt.Fprintf(env.Stdout, "  %s: %s\n", k, v)
		}
	}
	printData("data:", out.Data)
	printData("draft:", out.Draft)
	for _, h := range out.History {
		fmt.Fprintf(env.Stdout, "history: %s parents %v deleted=%v saved %s\n", h.Rev, h.Parents, h.Deleted, h.SavedAt.Format(time.RFC3339))
	}
	return nil
}
