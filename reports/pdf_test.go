package reports_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/reports"
)

// needTool reports whether the external tool name is on the PATH. When it
// is not, the test is skipped on a developer's machine but fails in CI
// (CI set), which installs every tool the tests need; the caller must
// return when it reports false.
func needTool(tb testing.TB, name string) bool {
	tb.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return true
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s not installed, and CI must run the tests that need it", name)
	} else {
		tb.Skipf("%s not installed; CI installs it", name)
	}
	return false
}

// pdfText returns the text of a PDF as pdftotext reads it.
func pdfText(t *testing.T, pdf []byte, layout bool) string {
	t.Helper()
	if !needTool(t, "pdftotext") {
		return ""
	}
	path := filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-enc", "UTF-8"}
	if layout {
		args = append(args, "-layout")
	}
	out, err := exec.Command("pdftotext", append(args, path, "-")...).Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// personalValues returns every value of a sensitive field in src.
func personalValues(t *testing.T, src *memSource) []string {
	t.Helper()
	var vals []string
	reg := forms.Builtin()
	for _, rev := range src.all {
		f, err := reg.Get(rev.FormID, rev.FormVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range f.SensitiveFields() {
			if s, ok := rev.Data[id].(string); ok && s != "" {
				vals = append(vals, s)
			}
		}
	}
	if len(vals) == 0 {
		t.Fatal("the data set has no personal values to look for")
	}
	return vals
}

func TestNeedsPDF(t *testing.T) {
	src := demoSource(t, 5, 1500)
	meta := reports.Meta{State: "République démocratique populaire lao — Việt Nam — ສປປ ລາວ", Programme: "LAO", GeneratedAt: testNow, LastSync: testNow.Add(-3600e9), Device: "Bureau Phonsavan"}
	rep, err := reports.Build(context.Background(), src, forms.Builtin(), reports.Filter{}, meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []reports.PageSize{reports.A4, reports.Letter} {
		t.Run(string(size), func(t *testing.T) {
			var buf bytes.Buffer
			if err := reports.WriteNeedsPDF(&buf, rep, size); err != nil {
				t.Fatal(err)
			}
			text := pdfText(t, buf.Bytes(), false)
			flat := strings.Join(strings.Fields(text), " ")
			for _, want := range []string{
				"Needs assessment", meta.State, "Bureau Phonsavan", "2026-11-27 08:30 UTC", "2026-11-27 09:30 UTC",
				"1. Casualties", "2. Survivors and victim assistance", "3. Contamination and land release",
				"4. Stockpile destruction", "5. Risk education", "6. Needs for cooperation and assistance",
				reports.TableCasualtiesByYear, reports.TablePriorityList, "Page 1 of",
			} {
				if !strings.Contains(flat, want) {
					t.Errorf("PDF text lacks %q", want)
				}
			}
			// Every key figure appears with its label, as printed.
			for _, f := range rep.KeyFigures {
				if !strings.Contains(flat, f.Label) || !strings.Contains(flat, f.Value.Format(f.Format)) {
					t.Errorf("PDF lacks key figure %q = %s", f.Label, f.Value.Format(f.Format))
				}
			}
			// The totals of the casualty table appear in the layout text on
			// the Total line.
			lay := pdfText(t, buf.Bytes(), true)
			tb := rep.Section(reports.SectionCasualties).Table(reports.TableCasualtiesByYear)
			var want []string
			for _, c := range tb.Total.Cells {
				want = append(want, c.String())
			}
			want = append(want, tb.Total.Total.String())
			if !strings.Contains(lay, strings.Join(want, " ")) && !containsLine(lay, "Total", want) {
				t.Errorf("PDF lacks the casualty total line %v", want)
			}
			for _, v := range personalValues(t, src) {
				if strings.Contains(text, v) {
					t.Fatalf("PDF contains a personal value")
				}
			}
			pages := strings.Count(text, "\f")
			if pages < 7 {
				t.Errorf("PDF has %d pages, want at least 7 (cover and six sections)", pages)
			}
		})
	}
}

// containsLine reports whether a line starting with prefix holds the given
// fields in order.
func containsLine(text, prefix string, fields []string) bool {
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != prefix {
			continue
		}
		if strings.Join(f[1:], " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}

func TestPageSize(t *testing.T) {
	tests := []struct {
		in   string
		want reports.PageSize
		ok   bool
	}{{"A4", reports.A4, true}, {"letter", reports.Letter, true}, {"", reports.A4, true}, {"A5", "", false}}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := reports.ParsePageSize(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("ParsePageSize(%q) = %q, %v", tc.in, got, err)
			}
		})
	}
	if err := reports.WriteNeedsPDF(&bytes.Buffer{}, &reports.Report{}, "A5"); err == nil {
		t.Fatal("A5 accepted")
	}
}

func TestNeedsPDFEmptyStore(t *testing.T) {
	rep, err := reports.Build(context.Background(), &memSource{}, forms.Builtin(), reports.Filter{Adm1: "Nowhere"}, reports.Meta{State: "Lao PDR", GeneratedAt: testNow})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := reports.WriteNeedsPDF(&buf, rep, reports.Letter); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(pdfText(t, buf.Bytes(), false)), " ")
	for _, want := range []string{"Casualties recorded 0", "Years left at the recent release rate —", "No records.", "Province Nowhere"} {
		if !strings.Contains(text, want) {
			t.Errorf("empty report lacks %q", want)
		}
	}
}

// toolTB records whether needTool would have skipped or failed a test; it
// implements only what needTool calls.
type toolTB struct {
	testing.TB
	fatal, skipped bool
}

func (r *toolTB) Helper()               {}
func (r *toolTB) Fatalf(string, ...any) { r.fatal = true }
func (r *toolTB) Skipf(string, ...any)  { r.skipped = true }

// TestNeedToolFailsInCI: a missing tool skips a test locally and fails it
// in CI, so that CI never passes by skipping the PDF checks.
func TestNeedToolFailsInCI(t *testing.T) {
	for _, tc := range []struct {
		ci                  string
		wantFatal, wantSkip bool
	}{{ci: "", wantSkip: true}, {ci: "true", wantFatal: true}} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			var r toolTB
			if needTool(&r, "ccmcollect-no-such-tool") {
				t.Fatal("a missing tool was found")
			}
			if r.fatal != tc.wantFatal || r.skipped != tc.wantSkip {
				t.Errorf("fatal=%v skipped=%v, want fatal=%v skipped=%v", r.fatal, r.skipped, tc.wantFatal, tc.wantSkip)
			}
		})
	}
}
