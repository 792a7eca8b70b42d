package reports_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/reports"
)

func caseHistory(t *testing.T) []*record.Revision {
	t.Helper()
	id := record.NewID()
	data := map[string]any{
		"incident_date": "2024-03-12", "adm1": "Xiengkhouang", "village": "ບ້ານໂພນສະຫວັນ", "adm2": "Bản Nà Hồng", "outcome": "injured", "sex": "female",
		"age": 12.0, "cm_context": "remnant", "va_needs": []any{"rehabilitation", "education"}, "va_received": []any{"rehabilitation"},
		"consent": "yes", "name": "Nguyễn Thị Hồng", "contact": "+856 20 5555 0101",
	}
	m := record.Meta{Programme: "LAO", DeviceID: "dev-7", User: "Amélie Dupont", SavedAt: testNow.Add(-48 * 3600e9)}
	r1, err := record.NewRevision(id, "casualty", 1, data, m)
	if err != nil {
		t.Fatal(err)
	}
	data2 := map[string]any{}
	for k, v := range data {
		data2[k] = v
	}
	data2["age"] = 13.0
	m.SavedAt = testNow.Add(-24 * 3600e9)
	r2, err := record.Next(id, []string{r1.Rev}, "casualty", 1, false, data2, m)
	if err != nil {
		t.Fatal(err)
	}
	return []*record.Revision{r2, r1} // any order
}

func TestCaseSheet(t *testing.T) {
	hist := caseHistory(t)
	tests := []struct {
		name     string
		personal bool
	}{{"default", false}, {"include personal", true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := reports.WriteCaseSheet(&buf, hist, forms.Builtin(), reports.CaseSheetOptions{IncludePersonal: tc.personal, GeneratedAt: testNow, Device: "Bureau"})
			if err != nil {
				t.Fatal(err)
			}
			text := strings.Join(strings.Fields(pdfText(t, buf.Bytes(), false)), " ")
			for _, want := range []string{
				"Casualty", "case sheet", hist[0].RecordID, "Date of incident", "2024-03-12", "Bản Nà Hồng", "ບ້ານໂພນສະຫວັນ",
				"Injured (survivor)", "Child (under 18)", "13", "Revision history (2)", "created by Amélie Dupont",
				"edited by Amélie Dupont", "Changed: Age", hist[0].Rev[:12],
			} {
				if !strings.Contains(text, want) {
					t.Errorf("case sheet lacks %q", want)
				}
			}
			for _, v := range []string{"Nguyễn Thị Hồng", "+856 20 5555 0101"} {
				if got := strings.Contains(text, v); got != tc.personal {
					t.Errorf("personal value %q printed = %v, want %v", v, got, tc.personal)
				}
			}
			if !tc.personal && !strings.Contains(text, reports.Hidden) {
				t.Errorf("case sheet does not say personal data was left out")
			}
		})
	}
}

func TestCaseSheetErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := reports.WriteCaseSheet(&buf, nil, forms.Builtin(), reports.CaseSheetOptions{}); !errors.Is(err, reports.ErrNoHistory) {
		t.Errorf("empty history: %v", err)
	}
	a, b := caseHistory(t), caseHistory(t)
	if err := reports.WriteCaseSheet(&buf, []*record.Revision{a[1], b[1]}, forms.Builtin(), reports.CaseSheetOptions{}); err == nil {
		t.Errorf("two records accepted")
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %d bytes on error", buf.Len())
	}
}
