package forms

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestColumns(t *testing.T) {
	f := builtin(t, "casualty")
	cols := f.Columns()
	for _, want := range []string{"incident_date", "location_lat", "location_lon", "location_accuracy_m", "age_group", "va_needs", "name"} {
		if !slices.Contains(cols, want) {
			t.Errorf("casualty columns lack %s: %v", want, cols)
		}
	}
	if slices.Contains(cols, "location") {
		t.Error("geopoint not split")
	}
	ra := builtin(t, "risk_education").Columns()
	if !slices.Contains(ra, "participants_female_0-4") || !slices.Contains(ra, "participants_unknown_unknown") || len(ra) != 8+18 {
		t.Errorf("risk_education columns %v", ra)
	}
	for _, id := range BuiltinIDs {
		f := builtin(t, id)
		cols, owners := f.Columns(), f.ColumnFields()
		if len(cols) != len(owners) {
			t.Fatalf("%s: %d columns, %d owners", id, len(cols), len(owners))
		}
		for i, c := range cols {
			if !strings.HasPrefix(c, owners[i]) {
				t.Errorf("%s: column %s owned by %s", id, c, owners[i])
			}
		}
		if a, b := len(f.Columns()), len(f.HXLTags()); a != b {
			t.Errorf("%s: %d columns, %d HXL tags", id, a, b)
		}
		if n := len(f.Flatten(nil)); n != len(f.Columns()) {
			t.Errorf("%s: Flatten(nil) has %d cells for %d columns", id, n, len(f.Columns()))
		}
	}
	tags := builtin(t, "hazard_area").HXLTags()
	if !slices.Contains(tags, "#beneficiary+f+children") || !slices.Contains(tags, "#area+m2") {
		t.Errorf("hazard_area HXL tags %v", tags)
	}
}

func TestFlattenRoundTrip(t *testing.T) {
	cases := []struct{ form, data string }{
		{"casualty", `{"incident_date": "2024-03-12", "adm1": "Xieng Khouang", "location": {"lat": 19.45, "lon": 103.2, "accuracy_m": 8},
			"outcome": "injured", "sex": "female", "age": 12, "va_needs": ["medical_care", "legal"], "va_received": ["legal"], "consent": "no"}`},
		{"hazard_area", `{"area_code": "XK-1", "survey_date": "2025-02-01", "adm1": "X", "status": "sha", "area_m2": 0.5,
			"beneficiaries": {"female": {"0-17": 3, "60+": 0}, "unknown": {"unknown": 1}}}`},
		{"needs_assessment", `{"title": "T, with \"quotes\"", "support_type": ["material"], "quantity": 2, "unit_cost": 1234567.25, "currency": "EUR"}`},
		{"land_release", `{"area_code": "A", "release_date": "2025-01-01", "method": "cleared", "released_m2": 100, "clearance_depth_cm": 15}`},
	}
	for _, c := range cases {
		t.Run(c.form, func(t *testing.T) {
			f := builtin(t, c.form)
			data := jsonData(t, c.data)
			if err := f.Validate(data, testNow); err != nil {
				t.Fatalf("test data invalid: %v", err)
			}
			cols, row := f.Columns(), f.Flatten(data)
			m := map[string]string{}
			for i, c := range cols {
				m[c] = row[i]
			}
			back, err := f.Unflatten(m)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalizeJSON(t, back), normalizeJSON(t, data)) {
				t.Fatalf("round trip\n got %v\nwant %v", back, data)
			}
		})
	}
	f := builtin(t, "needs_assessment")
	row := f.Flatten(jsonData(t, `{"title": "x", "quantity": 3, "unit_cost": 2.5, "support_type": ["technical", "financial"]}`))
	cols := f.Columns()
	get := func(c string) string { return row[slices.Index(cols, c)] }
	if get("total_cost") != "7.5" || get("funding_gap") != "7.5" || get("support_type") != "technical financial" {
		t.Errorf("flattened total %q gap %q support %q", get("total_cost"), get("funding_gap"), get("support_type"))
	}
	big := f.Flatten(map[string]any{"quantity": 1e9, "unit_cost": 3.0})
	if c := big[slices.Index(cols, "total_cost")]; c != "3000000000" {
		t.Errorf("large number written as %q", c)
	}
}

func normalizeJSON(t *testing.T, m map[string]any) any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUnflatten(t *testing.T) {
	f := builtin(t, "needs_assessment")
	got, err := f.Unflatten(map[string]string{"title": " T ", "quantity": "2", "total_cost": "999", "adm2": "", "beneficiaries_male_60+": "4"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"title": "T", "quantity": 2.0, "beneficiaries": map[string]any{"male": map[string]any{"60+": 4.0}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Unflatten = %v, want %v", got, want)
	}
	g, err := builtin(t, "hazard_area").Unflatten(map[string]string{"location_lat": "1.5", "location_lon": "2"})
	if err != nil || !reflect.DeepEqual(g["location"], map[string]any{"lat": 1.5, "lon": 2.0}) {
		t.Errorf("geopoint %v, %v", g, err)
	}
	bad := []struct {
		form string
		row  map[string]string
		col  string
	}{
		{"needs_assessment", map[string]string{"quantity": "two"}, `"quantity"`},
		{"needs_assessment", map[string]string{"colour": "red"}, `"colour"`},
		{"needs_assessment", map[string]string{"beneficiaries_female_0-17": "x"}, `"beneficiaries_female_0-17"`},
		{"hazard_area", map[string]string{"location_lat": "north"}, `"location_lat"`},
	}
	for _, b := range bad {
		_, err := builtin(t, b.form).Unflatten(b.row)
		if err == nil || !strings.Contains(err.Error(), b.col) || !errors.Is(err, ErrInvalid) {
			t.Errorf("Unflatten(%v) error %v, want one naming %s", b.row, err, b.col)
		}
	}
	custom := mustParse(t, `{"id":"x","version":1,"title":"X","fields":[{"id":"ok","type":"boolean","label":"OK"}]}`)
	for in, want := range map[string]any{"true": true, "Yes": true, "0": false, "no": false} {
		got, err := custom.Unflatten(map[string]string{"ok": in})
		if err != nil || got["ok"] != want {
			t.Errorf("boolean %q: %v, %v", in, got, err)
		}
	}
	if _, err := custom.Unflatten(map[string]string{"ok": "perhaps"}); err == nil {
		t.Error("boolean 'perhaps' accepted")
	}
}

// FuzzValidate feeds arbitrary JSON data to every built-in form; validation,
// computation and flattening must never panic.
func FuzzValidate(f *testing.F) {
	seeds := []string{
		`{"incident_date": "2024-03-12", "adm1": "X", "outcome": "injured", "sex": "female", "age": 12, "va_needs": ["legal"]}`,
		`{"beneficiaries": {"female": {"0-17": 3}}, "area_m2": -1, "evidence": ["remnant_seen", 3]}`,
		`{"location": {"lat": "x"}, "participants": {"male": []}, "quantity": 1e308, "unit_cost": 1e308}`,
		`{"secured_national": null, "start_date": "2024-13-01", "support_type": "technical"}`,
		`{}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	r := Builtin()
	forms := r.All()
	f.Fuzz(func(t *testing.T, b []byte) {
		var data map[string]any
		if json.Unmarshal(b, &data) != nil {
			return
		}
		for _, form := range forms {
			err := form.Validate(data, testNow)
			var ve *ValidationError
			if err != nil && (!errors.As(err, &ve) || len(ve.Problems) == 0) {
				t.Fatalf("%s: error without problems: %v", form.ID, err)
			}
			_ = form.ValidateDraft(data)
			_ = form.Compute(data)
			_ = form.Strip(data)
			row := form.Flatten(data)
			if len(row) != len(form.Columns()) {
				t.Fatalf("%s: %d cells", form.ID, len(row))
			}
		}
	})
}
