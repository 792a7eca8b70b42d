package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccmcollect/ccmcollect/demo"
	"github.com/ccmcollect/ccmcollect/storage"
)

const reportPass = "correct horse battery staple"

// seedReportStore fills a real store on disk with n generated records and
// returns the id of one casualty that has a name.
func seedReportStore(t *testing.T, env *Env, n int) (named string, names []string, perForm map[string]int) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(ctx, storage.Options{Dir: env.DataDir, Passphrase: []byte(reportPass), Now: env.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetIdentity(ctx, storage.Identity{Programme: "LAO", DeviceID: "dev-42", DeviceName: "Phonsavan office"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetSetting(ctx, SettingLastSync, []byte("2026-11-25T17:00:00Z")); err != nil {
		t.Fatal(err)
	}
	perForm = map[string]int{}
	err = demo.Generate(9, n, env.Now(), func(formID string, data map[string]any) error {
		rev, err := st.Create(ctx, formID, data)
		if err != nil {
			return err
		}
		perForm[formID]++
		if s, ok := data["name"].(string); ok {
			names = append(names, s)
			named = rev.RecordID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if named == "" {
		t.Fatal("no named casualty generated")
	}
	return named, names, perForm
}

func pdfToText(t *testing.T, path string) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftotext (poppler-utils) not installed, and CI must run the tests that need it")
		}
		t.Skip("pdftotext (poppler-utils) not installed; CI installs it")
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext %s: %v", path, err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

func TestReportAndExportCommands(t *testing.T) {
	env, stdout, stderr := testEnv()
	env.DataDir = t.TempDir()
	env.Getenv = func(k string) string {
		if k == passphraseEnv {
			return reportPass
		}
		return ""
	}
	named, names, perForm := seedReportStore(t, env, 150)
	out := t.TempDir()
	ctx := context.Background()
	run := func(t *testing.T, want int, args ...string) {
		t.Helper()
		stdout.Reset()
		stderr.Reset()
		if got := Run(ctx, env, args); got != want {
			t.Fatalf("%v: exit %d, want %d; stderr: %s", args, got, want, stderr)
		}
	}

	t.Run("needs", func(t *testing.T) {
		pdf, js := filepath.Join(out, "needs.pdf"), filepath.Join(out, "needs.json")
		run(t, 0, "report", "needs", "--out", pdf, "--json", js, "--page", "letter")
		var rep struct {
			Meta struct {
				Programme string `json:"programme"`
				Device    string `json:"device"`
			} `json:"meta"`
			KeyFigures []struct {
				Label string `json:"label"`
				Value any    `json:"value"`
			} `json:"key_figures"`
		}
		b, err := os.ReadFile(js)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Meta.Programme != "LAO" || rep.Meta.Device != "Phonsavan office" {
			t.Errorf("meta = %+v", rep.Meta)
		}
		if got := rep.KeyFigures[0].Value; got != float64(perForm["casualty"]) {
			t.Errorf("JSON casualties = %v, want %d", got, perForm["casualty"])
		}
		text := pdfToText(t, pdf)
		for _, want := range []string{"Needs assessment", "LAO", "Phonsavan office", "2026-11-25 17:00 UTC", "Casualties recorded"} {
			if !strings.Contains(text, want) {
				t.Errorf("PDF lacks %q", want)
			}
		}
		for _, n := range names {
			if strings.Contains(text, n) {
				t.Fatal("needs PDF contains a personal name")
			}
		}
		// stderr is not a terminal here: one plain progress line, no
		// carriage returns or escape codes.
		if got := stderr.String(); !strings.Contains(got, "reading ") || strings.ContainsAny(got, "\r\033") {
			t.Errorf("progress on a non-terminal stderr: %q, want one plain line", got)
		}
	})

	t.Run("record", func(t *testing.T) {
		pdf := filepath.Join(out, "case.pdf")
		run(t, 0, "report", "record", named, "--out", pdf)
		text := pdfToText(t, pdf)
		if !strings.Contains(text, named) || !strings.Contains(text, "Revision history (1)") {
			t.Errorf("case sheet lacks the record id or its history")
		}
		for _, n := range names {
			if strings.Contains(text, n) {
				t.Fatal("case sheet prints a name without --include-personal")
			}
		}
		run(t, 0, "report", "record", named, "--out", pdf, "--include-personal")
		text = pdfToText(t, pdf)
		found := false
		for _, n := range names {
			found = found || strings.Contains(text, n)
		}
		if !found {
			t.Error("case sheet with --include-personal shows no name")
		}
	})

	t.Run("export", func(t *testing.T) {
		path := filepath.Join(out, "casualty.csv")
		run(t, 0, "export", "--form", "casualty", "--format", "csv", "--out", path, "--hxl")
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != perForm["casualty"]+2 {
			t.Fatalf("%d rows, want %d records + 2 header rows", len(rows), perForm["casualty"])
		}
		if rows[1][0] != "#meta+id" {
			t.Errorf("no HXL row: %v", rows[1][:3])
		}
		b, _ := os.ReadFile(path)
		for _, n := range names {
			if strings.Contains(string(b), n) {
				t.Fatal("export holds a name without --include-personal")
			}
		}
	})

	t.Run("bad input", func(t *testing.T) {
		bad := filepath.Join(out, "bad.pdf")
		tests := [][]string{
			{"report", "needs", "--out", bad, "--from", "2024-13-01"},
			{"report", "needs", "--out", bad, "--from", "2024-06-01", "--to", "2024-01-01"},
			{"report", "needs"},
			{"report", "needs", "--out", bad, "--page", "a5"},
			{"report", "record", "--out", bad},
			{"export", "--form", "casualty", "--format", "xlsx", "--out", bad},
		}
		for _, args := range tests {
			run(t, 2, args...)
		}
		run(t, 1, "export", "--form", "nope", "--out", bad)
		run(t, 1, "report", "record", "0192f0c1-0000-7000-8000-000000000000", "--out", bad)
		if _, err := os.Stat(bad); !os.IsNotExist(err) {
			t.Errorf("a failed command left %s behind", bad)
		}
	})
}
