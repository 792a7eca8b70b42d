package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccmcollect/ccmcollect/forms"
)

// recStoreEnv is a test Env on a fresh data directory with a passphrase set.
type recStoreEnv struct {
	t    *testing.T
	dir  string
	pass string
}

func newRecStoreEnv(t *testing.T) *recStoreEnv {
	t.Helper()
	return &recStoreEnv{t: t, dir: filepath.Join(t.TempDir(), "data"), pass: "field laptop"}
}

// run runs a command and returns its exit status, stdout and stderr.
func (s *recStoreEnv) run(args ...string) (int, string, string) {
	s.t.Helper()
	env, out, errb := testEnv()
	env.Getenv = func(k string) string {
		if k == passphraseEnv {
			return s.pass
		}
		return ""
	}
	code := Run(context.Background(), env, append([]string{"--data", s.dir}, args...))
	return code, out.String(), errb.String()
}

func writeTestFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodCasualty = `{"incident_date":"2024-03-12","adm1":"Xiangkhouang","outcome":"injured","sex":"male","age":9,"consent":"yes","name":"Private Name"}`

func lastOutLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestRecordCommands(t *testing.T) {
	s := newRecStoreEnv(t)
	code, out, errs := s.run("record", "add", "--form", "casualty", "--file", writeTestFile(t, "a.json", goodCasualty))
	if code != 0 {
		t.Fatalf("add: %d %s", code, errs)
	}
	id := lastOutLine(out)
	if strings.TrimSpace(out) != id || len(id) != 36 {
		t.Fatalf("add printed %q on stdout, want the record id alone", out)
	}
	code, _, errs = s.run("record", "add", "--form", "casualty", "--file", writeTestFile(t, "b.json", `{"adm1":"X","sex":"robot"}`))
	if code != 1 || !strings.Contains(errs, "sex") || !strings.Contains(errs, "incident_date") {
		t.Fatalf("invalid add: %d %s", code, errs)
	}
	code, out, _ = s.run("record", "add", "--form", "casualty", "--json", "--file", writeTestFile(t, "b2.json", `{"adm1":"X","sex":"robot"}`))
	var probs struct {
		Errors []forms.Problem `json:"errors"`
	}
	if code != 1 || json.Unmarshal([]byte(out), &probs) != nil || len(probs.Errors) < 2 {
		t.Fatalf("invalid add --json: %d %s", code, out)
	}
	if code, _, errs = s.run("record", "add", "--form", "casualty", "--file", writeTestFile(t, "c.json", `{"adm1":"Draftland"}`), "--draft"); code != 0 {
		t.Fatalf("draft add: %s", errs)
	}
	code, out, _ = s.run("record", "add", "--form", "casualty", "--file", writeTestFile(t, "d.json", `{"adm1":"Gone"}`), "--draft")
	if code != 0 {
		t.Fatal("second draft")
	}
	if code, out, errs = s.run("record", "delete", lastOutLine(out)); code != 0 || !strings.Contains(errs, "draft discarded") || strings.TrimSpace(out) != lastOutLine(out) {
		t.Fatalf("delete a draft: %d %s %s", code, out, errs)
	}
	code, out, _ = s.run("record", "list", "--json")
	var l listOutput
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || len(l.Records) != 2 || l.Records[1].ID != id {
		t.Fatalf("list: %d %s", code, out)
	}
	if strings.Contains(out, "Private") {
		t.Fatal("list shows personal data")
	}
	code, out, _ = s.run("record", "show", id, "--json")
	if code != 0 || strings.Contains(out, "Private Name") || !strings.Contains(out, `"age_group": "child"`) {
		t.Fatalf("show: %s", out)
	}
	if _, out, _ = s.run("record", "show", id, "--include-personal"); !strings.Contains(out, "Private Name") {
		t.Fatalf("show --include-personal: %s", out)
	}
	edited := strings.Replace(goodCasualty, `"age":9`, `"age":10`, 1)
	if code, out, errs = s.run("record", "edit", id, "--file", writeTestFile(t, "e.json", edited), "--json"); code != 0 || !strings.Contains(out, `"rev":"2-`) {
		t.Fatalf("edit: %d %s %s", code, out, errs)
	}
	if code, _, errs = s.run("record", "delete", id); code != 0 {
		t.Fatalf("delete: %s", errs)
	}
	_, out, _ = s.run("record", "show", id, "--json", "--history")
	var shown showOutput
	if err := json.Unmarshal([]byte(out), &shown); err != nil || !shown.Deleted || len(shown.History) != 3 || shown.Data != nil {
		t.Fatalf("show after delete: %v %s", err, out)
	}
	if code, _, errs = s.run("record", "show", "no-such-id"); code != 1 || !strings.Contains(errs, "not found") {
		t.Fatalf("show unknown: %d %s", code, errs)
	}
	s.pass = "not it"
	if code, _, errs = s.run("record", "list"); code != 1 || !strings.Contains(errs, "wrong passphrase") {
		t.Fatalf("wrong passphrase: %d %s", code, errs)
	}
}

func TestRecordImport(t *testing.T) {
	s := newRecStoreEnv(t)
	good := `{"incident_date":"2024-01-01","adm1":"A","outcome":"killed","sex":"female"}`
	bad := writeTestFile(t, "bad.jsonl", good+"\n\n{\"adm1\":\"B\"}\nnot json\n"+good+"\n")
	code, _, errs := s.run("record", "import", "--form", "casualty", "--file", bad)
	if code != 1 || !strings.Contains(errs, "line 3:") || !strings.Contains(errs, "line 4:") || strings.Contains(errs, "line 1:") {
		t.Fatalf("bad import: %d %s", code, errs)
	}
	if _, out, _ := s.run("record", "list", "--json"); !strings.Contains(out, `"records":[]`) {
		t.Fatalf("a failed import saved records: %s", out)
	}
	code, out, errs := s.run("record", "import", "--form", "casualty", "--file", writeTestFile(t, "ok.jsonl", good+"\n"+good+"\n"), "--json")
	if code != 0 || !strings.Contains(out, `"imported":2`) {
		t.Fatalf("import: %d %s %s", code, out, errs)
	}
	// CSV with the form's own columns.
	f, _ := forms.Builtin().Latest("hazard_area")
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write(f.Columns())
	for _, code := range []string{"HA-1", "HA-2", "HA-3"} {
		w.Write(f.Flatten(map[string]any{"area_code": code, "adm1": "Champasak", "survey_date": "2024-02-01", "status": "sha", "area_m2": 1200.5}))
	}
	w.Flush()
	code, out, errs = s.run("record", "import", "--form", "hazard_area", "--file", writeTestFile(t, "h.csv", b.String()))
	if code != 0 || !strings.Contains(out, "imported 3") {
		t.Fatalf("csv import: %d %s %s", code, out, errs)
	}
	if _, out, _ = s.run("record", "list", "--form", "hazard_area", "--text", "ha-2"); strings.Count(out, "\n") != 1 || !strings.Contains(out, "HA-2") {
		t.Fatalf("search: %s", out)
	}
	badCSV := strings.Replace(b.String(), "1200.5", "-3", 1)
	code, _, errs = s.run("record", "import", "--form", "hazard_area", "--file", writeTestFile(t, "bad.csv", badCSV))
	if code != 1 || !strings.Contains(errs, "line 2:") || !strings.Contains(errs, "area_m2") {
		t.Fatalf("bad csv: %d %s", code, errs)
	}
}

func TestBackupRestoreCommands(t *testing.T) {
	s := newRecStoreEnv(t)
	_, out, _ := s.run("record", "add", "--form", "casualty", "--file", writeTestFile(t, "a.json", goodCasualty))
	id := lastOutLine(out)
	bak := filepath.Join(t.TempDir(), "store.bak")
	if code, _, errs := s.run("backup", "--out", bak); code != 0 {
		t.Fatalf("backup: %s", errs)
	}
	if code, _, errs := s.run("restore", bak); code != 1 || !strings.Contains(errs, "--force") {
		t.Fatalf("restore over a store: %d %s", code, errs)
	}
	other := &recStoreEnv{t: t, dir: filepath.Join(t.TempDir(), "other"), pass: s.pass}
	if code, _, errs := other.run("restore", bak); code != 0 {
		t.Fatalf("restore: %s", errs)
	}
	if code, out, _ := other.run("record", "show", id); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("restored record: %s", out)
	}
	s.run("record", "delete", id)
	if code, _, errs := s.run("restore", bak, "--force"); code != 0 {
		t.Fatalf("restore --force: %s", errs)
	}
	if _, out, _ := s.run("record", "show", id, "--json"); !strings.Contains(out, `"deleted": false`) {
		t.Fatalf("forced restore did not bring back the backup: %s", out)
	}
}

func TestPassphrasePrompt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	add := []string{"record", "add", "--form", "casualty", "--file", writeTestFile(t, "a.json", goodCasualty)}
	list := []string{"record", "list"}
	for _, tt := range []struct {
		name, stdin string
		args        []string
		code        int
	}{
		{"creates with typed passphrase", "typed secret\n", add, 0},
		{"reopens with it", "typed secret\n", list, 0},
		{"wrong one", "other\n", list, 1},
		{"empty", "\n", list, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, _, errb := testEnv()
			env.Stdin = strings.NewReader(tt.stdin)
			if code := Run(context.Background(), env, append([]string{"--data", dir}, tt.args...)); code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, errb)
			}
			if !strings.Contains(errb.String(), "Passphrase") || strings.Contains(errb.String(), strings.TrimSpace(tt.stdin)+"\n") && tt.stdin != "\n" {
				t.Fatalf("prompt: %q", errb)
			}
		})
	}
}

func TestRecordUsageErrors(t *testing.T) {
	s := newRecStoreEnv(t)
	data := writeTestFile(t, "a.json", goodCasualty)
	for _, tt := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"add without form", []string{"record", "add", "--file", data}, 2, "--form"},
		{"add unknown form", []string{"record", "add", "--form", "nope", "--file", data}, 1, "nope"},
		{"add malformed json", []string{"record", "add", "--form", "casualty", "--file", writeTestFile(t, "b.json", "{")}, 1, "JSON"},
		{"import unknown extension", []string{"record", "import", "--form", "casualty", "--file", writeTestFile(t, "x.txt", "")}, 2, ".jsonl"},
		{"import unknown csv column", []string{"record", "import", "--form", "casualty", "--file", writeTestFile(t, "x.csv", "nope\n1\n")}, 1, "nope"},
		{"edit unknown", []string{"record", "edit", "missing", "--file", data}, 1, "not found"},
		{"list bad date", []string{"record", "list", "--from", "yesterday"}, 2, "bad date"},
		{"backup without out", []string{"backup"}, 2, "--out"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := s.run(tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.msg) {
				t.Fatalf("exit %d (want %d): %s", code, tt.code, errs)
			}
		})
	}
}

// TestRecordImportExportShapedCSV checks that a CSV laid out like the
// output of "ccmcollect export" (record_id, rev and saved_at before the
// form's columns, optionally an HXL hashtag row) imports as new records.
func TestRecordImportExportShapedCSV(t *testing.T) {
	f, err := forms.Builtin().Latest("hazard_area")
	if err != nil {
		t.Fatal(err)
	}
	for _, hxl := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "hxl"}[hxl], func(t *testing.T) {
			s := newRecStoreEnv(t)
			var b strings.Builder
			w := csv.NewWriter(&b)
			w.Write(append([]string{"record_id", "rev", "saved_at"}, f.Columns()...))
			if hxl {
				w.Write(append([]string{"#meta+id", "#meta+rev", "#date+saved"}, f.HXLTags()...))
			}
			for i, code := range []string{"HA-7", "HA-8"} {
				meta := []string{fmt.Sprintf("rec-%d", i), "1-0123456789abcdef0123456789abcdef", "2026-11-20T10:00:00Z"}
				w.Write(append(meta, f.Flatten(map[string]any{"area_code": code, "adm1": "Champasak", "survey_date": "2024-02-01", "status": "sha", "area_m2": 800.0})...))
			}
			w.Flush()
			code, out, errs := s.run("record", "import", "--form", "hazard_area", "--file", writeTestFile(t, "export.csv", b.String()))
			if code != 0 || !strings.Contains(out, "imported 2") {
				t.Fatalf("import of an export: exit %d\nstdout %s\nstderr %s", code, out, errs)
			}
			_, out, _ = s.run("record", "list", "--form", "hazard_area", "--json")
			if !strings.Contains(out, "HA-7") || !strings.Contains(out, "HA-8") || strings.Contains(out, "rec-0") {
				t.Fatalf("imported records: %s", out)
			}
		})
	}
}

// TestProblemCountsSingular checks that one failing field or line is
// counted in the singular.
func TestProblemCountsSingular(t *testing.T) {
	s := newRecStoreEnv(t)
	oneBad := strings.Replace(goodCasualty, `"sex":"male"`, `"sex":"robot"`, 1)
	code, _, errs := s.run("record", "add", "--form", "casualty", "--file", writeTestFile(t, "a.json", oneBad))
	if code != 1 || !strings.Contains(errs, ": 1 problem in the casualty data") {
		t.Errorf("record add: exit %d: %s", code, errs)
	}
	code, _, errs = s.run("record", "import", "--form", "casualty", "--file", writeTestFile(t, "b.jsonl", goodCasualty+"\n"+oneBad+"\n"))
	if code != 1 || !strings.Contains(errs, ": 1 invalid line; nothing was imported") {
		t.Errorf("record import: exit %d: %s", code, errs)
	}
	code, out, errs := s.run("record", "import", "--form", "casualty", "--file", writeTestFile(t, "c.jsonl", goodCasualty+"\n"))
	if code != 0 || strings.TrimSpace(out) != "imported 1 record" {
		t.Errorf("record import: exit %d: %q %s", code, out, errs)
	}
}
