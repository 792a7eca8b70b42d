package reports_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/reports"
)

var samplePDF = flag.String("sample-pdf", "", "write the sample needs assessment (demo data, 5,000 records) to this file")

// TestWriteSample writes the sample report that docs/sample-report shows;
// it runs only with -sample-pdf (see docs/reports.md).
func TestWriteSample(t *testing.T) {
	if *samplePDF == "" {
		t.Skip("no -sample-pdf given")
	}
	src := demoSource(t, 2026, 5000)
	meta := reports.Meta{State: "Lao PDR", Programme: "LAO", GeneratedAt: testNow, LastSync: testNow.Add(-2 * 3600e9), Device: "NRA Vientiane desk"}
	rep, err := reports.Build(context.Background(), src, forms.Builtin(), reports.Filter{SuppressBelow: 5}, meta)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := reports.WriteNeedsPDF(&buf, rep, reports.A4); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*samplePDF, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// And a case sheet, with Lao and Vietnamese text, personal data hidden.
	buf.Reset()
	err = reports.WriteCaseSheet(&buf, caseHistory(t), forms.Builtin(), reports.CaseSheetOptions{GeneratedAt: testNow, Device: "NRA Vientiane desk"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(strings.TrimSuffix(*samplePDF, ".pdf")+"-case-sheet.pdf", buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
