package forms

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func builtin(t *testing.T, id string) *Form {
	t.Helper()
	f, err := Builtin().Latest(id)
	if err != nil {
		t.Fatalf("Latest(%q): %v", id, err)
	}
	return f
}

// jsonData decodes s the way records arrive from disk or the wire.
func jsonData(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test data %s: %v", s, err)
	}
	return m
}

// with returns a copy of base with the given keys set (a nil value deletes).
func with(base map[string]any, kv ...any) map[string]any {
	m := maps.Clone(base)
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(m, k)
		} else {
			m[k] = kv[i+1]
		}
	}
	return m
}

// fr is an expected problem: field and rule.
type fr struct{ field, rule string }

// checkProblems asserts that err holds exactly the expected field/rule pairs
// and that every message starts with the field's label.
func checkProblems(t *testing.T, f *Form, err error, want []fr) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("errors.Is(err, ErrInvalid) is false for %v", err)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T is not a *ValidationError", err)
	}
	var got []fr
	for _, p := range ve.Problems {
		got = append(got, fr{p.Field, p.Rule})
		if fd, ok := f.Field(p.Field); ok && !strings.HasPrefix(p.Message, fd.Label+": ") {
			t.Errorf("message %q does not start with label %q", p.Message, fd.Label)
		}
		if !strings.Contains(err.Error(), p.Message) {
			t.Errorf("Error() %q lacks message %q", err.Error(), p.Message)
		}
	}
	key := func(x fr) string { return x.field + "/" + x.rule }
	g, w := make([]string, len(got)), make([]string, len(want))
	for i := range got {
		g[i] = key(got[i])
	}
	for i := range want {
		w[i] = key(want[i])
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Fatalf("problems %v, want %v (%v)", g, w, err)
	}
}

type vcase struct {
	name string
	data map[string]any
	want []fr
}

func runCases(t *testing.T, f *Form, cases []vcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkProblems(t, f, f.Validate(c.data, testNow), c.want)
		})
	}
}

func TestCasualty(t *testing.T) {
	f := builtin(t, "casualty")
	base := jsonData(t, `{"incident_date": "2024-03-12", "adm1": "Xieng Khouang", "adm2": "Pek", "village": "Ban Na",
		"location": {"lat": 19.45, "lon": 103.2, "accuracy_m": 8}, "cm_context": "remnant", "device_category": "submunition",
		"outcome": "injured", "sex": "female", "age": 12, "civil_status": "civilian", "activity": "farming", "disability": "yes",
		"va_needs": ["medical_care", "rehabilitation"], "va_received": ["medical_care"], "consent": "yes", "name": "A. Person", "contact": "020 555"}`)
	runCases(t, f, []vcase{
		{"complete", base, nil},
		{"minimal", jsonData(t, `{"incident_date": "2024-03-12", "adm1": "X", "outcome": "killed", "sex": "unknown"}`), nil},
		{"incident today", with(base, "incident_date", "2026-11-27"), nil},
		{"incident tomorrow", with(base, "incident_date", "2026-11-28"), []fr{{"incident_date", "max"}}},
		{"incident before 1940", with(base, "incident_date", "1939-12-31"), []fr{{"incident_date", "min"}}},
		{"incident not a date", with(base, "incident_date", "2024-02-30"), []fr{{"incident_date", "type"}}},
		{"incident a number", with(base, "incident_date", 2024.0), []fr{{"incident_date", "type"}}},
		{"no incident date", with(base, "incident_date", nil), []fr{{"incident_date", "required"}}},
		{"no adm1", with(base, "adm1", nil), []fr{{"adm1", "required"}}},
		{"empty adm1", with(base, "adm1", ""), []fr{{"adm1", "required"}}},
		{"adm1 not text", with(base, "adm1", 3.0), []fr{{"adm1", "type"}}},
		{"village at the length limit", with(base, "village", strings.Repeat("ນ", MaxTextLength)), nil},
		{"village over the length limit", with(base, "village", strings.Repeat("a", MaxTextLength+1)), []fr{{"village", "max_length"}}},
		{"no outcome", with(base, "outcome", nil, "va_needs", nil, "va_received", nil), []fr{{"outcome", "required"}}},
		{"bad outcome", with(base, "outcome", "dead"), []fr{{"outcome", "option"}}},
		{"no sex", with(base, "sex", nil), []fr{{"sex", "required"}}},
		{"bad sex", with(base, "sex", "f"), []fr{{"sex", "option"}}},
		{"bad cm_context", with(base, "cm_context", "war"), []fr{{"cm_context", "option"}}},
		{"bad device", with(base, "device_category", "mine"), []fr{{"device_category", "option"}}},
		{"bad civil status", with(base, "civil_status", "soldier"), []fr{{"civil_status", "option"}}},
		{"bad activity", with(base, "activity", "fishing"), []fr{{"activity", "option"}}},
		{"bad disability", with(base, "disability", "maybe"), []fr{{"disability", "option"}}},
		{"age 0", with(base, "age", 0.0), nil},
		{"age 110", with(base, "age", 110.0), nil},
		{"age 111", with(base, "age", 111.0), []fr{{"age", "max"}}},
		{"age -1", with(base, "age", -1.0), []fr{{"age", "min"}}},
		{"age fraction", with(base, "age", 12.5), []fr{{"age", "type"}}},
		{"age text", with(base, "age", "12"), []fr{{"age", "type"}}},
		{"age Go int", with(base, "age", 30), nil},
		{"age json.Number", with(base, "age", json.Number("30")), nil},
		{"age empty is fine", with(base, "age", nil), nil},
		{"killed with va_needs", with(base, "outcome", "killed", "va_received", nil, "disability", nil), []fr{{"va_needs", "relevant"}}},
		{"killed without va", with(base, "outcome", "killed", "va_needs", nil, "va_received", nil, "disability", nil), nil},
		{"killed with disability", with(base, "outcome", "killed", "va_needs", nil, "va_received", nil), []fr{{"disability", "relevant"}}},
		{"unknown outcome with disability", with(base, "outcome", "unknown", "va_needs", nil, "va_received", nil), nil},
		{"bad va_needs option", with(base, "va_needs", []any{"money"}), []fr{{"va_needs", "option"}}},
		{"va_needs duplicate", with(base, "va_needs", []any{"medical_care", "medical_care"}), []fr{{"va_needs", "option"}}},
		{"va_needs not a list", with(base, "va_needs", "medical_care"), []fr{{"va_needs", "type"}}},
		{"va_needs []string", with(base, "va_needs", []string{"medical_care", "legal"}), nil},
		{"va_received not in needs", with(base, "va_received", []any{"legal"}), []fr{{"va_received", "subset"}}},
		{"va_received without needs", with(base, "va_needs", nil), []fr{{"va_received", "subset"}}},
		{"va_received equals needs", with(base, "va_received", []any{"rehabilitation", "medical_care"}), nil},
		{"no consent with name", with(base, "consent", "no"), []fr{{"name", "relevant"}, {"contact", "relevant"}}},
		{"consent missing with contact", with(base, "consent", nil, "name", nil), []fr{{"contact", "relevant"}}},
		{"no consent no personal data", with(base, "consent", "no", "name", nil, "contact", nil), nil},
		{"bad consent", with(base, "consent", "ok", "name", nil, "contact", nil), []fr{{"consent", "option"}}},
		{"location out of range", with(base, "location", map[string]any{"lat": 91.0, "lon": 0.0}), []fr{{"location", "range"}}},
		{"location without lon", with(base, "location", map[string]any{"lat": 19.0}), []fr{{"location", "type"}}},
		{"location extra key", with(base, "location", map[string]any{"lat": 19.0, "lon": 103.0, "alt": 3.0}), []fr{{"location", "type"}}},
		{"location negative accuracy", with(base, "location", map[string]any{"lat": 19.0, "lon": 103.0, "accuracy_m": -1.0}), []fr{{"location", "range"}}},
		{"location Go map", with(base, "location", map[string]float64{"lat": 19.0, "lon": 103.0}), nil},
		{"location not an object", with(base, "location", "19,103"), []fr{{"location", "type"}}},
		{"unknown key", with(base, "nickname", "x"), []fr{{"nickname", "unknown"}}},
		{"calculated value is ignored", with(base, "age_group", "elderly"), nil},
		{"null values are empty", with(base, "adm2", nil, "village", json.RawMessage(nil)), []fr{{"village", "type"}}},
	})
}

func TestCasualtyMessages(t *testing.T) {
	f := builtin(t, "casualty")
	err := f.Validate(jsonData(t, `{"incident_date": "2024-03-12", "adm1": "X", "outcome": "killed", "sex": "male", "age": 111}`), testNow)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 {
		t.Fatalf("want one problem, got %v", err)
	}
	want := Problem{Field: "age", Rule: "max", Message: "Age: must be between 0 and 110"}
	if ve.Problems[0] != want {
		t.Fatalf("got %+v, want %+v", ve.Problems[0], want)
	}
	if ve.FormID != "casualty" || ve.Version != 1 {
		t.Fatalf("error names %s v%d", ve.FormID, ve.Version)
	}
}

func TestProblemsFollowFormOrder(t *testing.T) {
	f := builtin(t, "casualty")
	err := f.Validate(map[string]any{"zzz": 1.0, "age": 200.0, "sex": "x", "adm1": 1.0, "incident_date": "2099-01-01"}, testNow)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.Field)
	}
	want := []string{"incident_date", "adm1", "outcome", "sex", "age", "zzz"}
	if !slices.Equal(got, want) {
		t.Fatalf("problem order %v, want %v", got, want)
	}
}

func TestSensitiveValuesStayOutOfMessages(t *testing.T) {
	f := builtin(t, "casualty")
	data := jsonData(t, `{"incident_date": "2024-03-12", "adm1": "X", "outcome": "killed", "sex": "male", "consent": "no",
		"name": "Secret Name", "contact": "+856 20 5555 1234"}`)
	err := f.Validate(data, testNow)
	if err == nil {
		t.Fatal("personal data without consent was accepted")
	}
	for _, s := range []string{"Secret", "5555"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q reveals personal data %q", err, s)
		}
	}
	custom := mustParse(t, `{"id":"x","version":1,"title":"X","fields":[{"id":"clan","type":"select_one","label":"Clan","sensitive":true,"options":[{"value":"a","label":"A"}]}]}`)
	if err := custom.Validate(map[string]any{"clan": "Secretclan"}, testNow); err == nil || strings.Contains(err.Error(), "Secret") {
		t.Errorf("sensitive choice: %v", err)
	}
	if got := f.SensitiveFields(); !slices.Equal(got, []string{"name", "contact"}) {
		t.Errorf("SensitiveFields = %v", got)
	}
}

func TestAgeGroup(t *testing.T) {
	f := builtin(t, "casualty")
	for _, c := range []struct {
		age  any
		want string
	}{{nil, "unknown"}, {0.0, "child"}, {17.0, "child"}, {18.0, "adult"}, {59.0, "adult"}, {60.0, "elderly"}, {110.0, "elderly"}, {"x", "unknown"}} {
		data := map[string]any{"sex": "female"}
		if c.age != nil {
			data["age"] = c.age
		}
		got := f.Compute(data)
		if got["age_group"] != c.want {
			t.Errorf("age %v: age_group %v, want %s", c.age, got["age_group"], c.want)
		}
		if _, ok := data["age_group"]; ok {
			t.Fatal("Compute modified its input")
		}
	}
}

func TestHazardArea(t *testing.T) {
	f := builtin(t, "hazard_area")
	base := jsonData(t, `{"area_code": "XK-0042", "survey_date": "2025-02-01", "adm1": "Xieng Khouang", "survey_type": "non_technical",
		"status": "cha", "area_m2": 12500.5, "evidence": ["remnant_seen", "craters"], "remnant_types": ["unexploded_submunition"],
		"estimated_remnants": 40, "year_of_use": 1969, "blocked_land_use": ["agriculture", "grazing"],
		"beneficiaries": {"female": {"0-17": 3, "18-59": 5}, "male": {"18-59": 2}, "unknown": {"unknown": 1}}}`)
	runCases(t, f, []vcase{
		{"complete", base, nil},
		{"no area code", with(base, "area_code", nil), []fr{{"area_code", "required"}}},
		{"area code with space", with(base, "area_code", "XK 42"), []fr{{"area_code", "pattern"}}},
		{"no survey date", with(base, "survey_date", nil), []fr{{"survey_date", "required"}}},
		{"future survey", with(base, "survey_date", "2027-01-01"), []fr{{"survey_date", "max"}}},
		{"bad survey type", with(base, "survey_type", "aerial"), []fr{{"survey_type", "option"}}},
		{"bad status", with(base, "status", "dha"), []fr{{"status", "option"}}},
		{"cha with indirect evidence only", with(base, "evidence", []any{"craters"}), []fr{{"status", "direct_evidence"}, {"evidence", "direct_evidence"}}},
		{"cha without evidence", with(base, "evidence", nil), []fr{{"status", "direct_evidence"}, {"evidence", "direct_evidence"}}},
		{"cha with remnant found", with(base, "evidence", []any{"remnant_found"}), nil},
		{"sha with indirect evidence", with(base, "status", "sha", "evidence", []any{"witness_report"}), nil},
		{"bad evidence", with(base, "evidence", []any{"remnant_seen", "rumour"}), []fr{{"evidence", "option"}}},
		{"area zero", with(base, "area_m2", 0.0), []fr{{"area_m2", "min"}}},
		{"area negative", with(base, "area_m2", -5.0), []fr{{"area_m2", "min"}}},
		{"area tiny", with(base, "area_m2", 0.01), nil},
		{"no area", with(base, "area_m2", nil), []fr{{"area_m2", "required"}}},
		{"bad remnant type", with(base, "remnant_types", []any{"landmine"}), []fr{{"remnant_types", "option"}}},
		{"negative remnants", with(base, "estimated_remnants", -1.0), []fr{{"estimated_remnants", "min"}}},
		{"fractional remnants", with(base, "estimated_remnants", 1.5), []fr{{"estimated_remnants", "type"}}},
		{"year 1940", with(base, "year_of_use", 1940.0), nil},
		{"year 1939", with(base, "year_of_use", 1939.0), []fr{{"year_of_use", "min"}}},
		{"year this year", with(base, "year_of_use", 2026.0), nil},
		{"year next year", with(base, "year_of_use", 2027.0), []fr{{"year_of_use", "max"}}},
		{"bad land use", with(base, "blocked_land_use", []any{"fishing"}), []fr{{"blocked_land_use", "option"}}},
		{"sadd unknown sex", with(base, "beneficiaries", map[string]any{"other": map[string]any{"0-17": 1.0}}), []fr{{"beneficiaries", "sadd"}}},
		{"sadd unknown band", with(base, "beneficiaries", map[string]any{"female": map[string]any{"0-4": 1.0}}), []fr{{"beneficiaries", "sadd"}}},
		{"sadd negative", with(base, "beneficiaries", map[string]any{"female": map[string]any{"0-17": -1.0}}), []fr{{"beneficiaries", "sadd"}}},
		{"sadd fraction", with(base, "beneficiaries", map[string]any{"female": map[string]any{"0-17": 1.5}}), []fr{{"beneficiaries", "sadd"}}},
		{"sadd row not object", with(base, "beneficiaries", map[string]any{"female": 3.0}), []fr{{"beneficiaries", "type"}}},
		{"sadd not object", with(base, "beneficiaries", []any{1.0}), []fr{{"beneficiaries", "type"}}},
		{"sadd Go map", with(base, "beneficiaries", map[string]map[string]int{"male": {"60+": 2}}), nil},
		{"sadd Go float map", with(base, "beneficiaries", map[string]map[string]float64{"female": {"0-17": 2}}), nil},
		{"sadd zero", with(base, "beneficiaries", map[string]any{"male": map[string]any{"60+": 0.0}}), nil},
	})
}

func TestLandRelease(t *testing.T) {
	f := builtin(t, "land_release")
	base := jsonData(t, `{"area_code": "XK-0042", "release_date": "2025-06-30", "method": "cleared", "released_m2": 5000,
		"clearance_depth_cm": 20, "submunitions_destroyed": 14, "other_items_destroyed": 2}`)
	runCases(t, f, []vcase{
		{"complete", base, nil},
		{"no area code", with(base, "area_code", nil), []fr{{"area_code", "required"}}},
		{"no release date", with(base, "release_date", nil), []fr{{"release_date", "required"}}},
		{"future release", with(base, "release_date", "2026-12-01"), []fr{{"release_date", "max"}}},
		{"bad method", with(base, "method", "burnt"), []fr{{"method", "option"}}},
		{"released zero", with(base, "released_m2", 0.0), []fr{{"released_m2", "min"}}},
		{"released negative", with(base, "released_m2", -3.0), []fr{{"released_m2", "min"}}},
		{"cleared without depth", with(base, "clearance_depth_cm", nil), []fr{{"clearance_depth_cm", "required"}}},
		{"reduced without depth", with(base, "method", "reduced", "clearance_depth_cm", nil), nil},
		{"cancelled with depth", with(base, "method", "cancelled"), nil},
		{"negative depth", with(base, "clearance_depth_cm", -1.0), []fr{{"clearance_depth_cm", "min"}}},
		{"negative submunitions", with(base, "submunitions_destroyed", -1.0), []fr{{"submunitions_destroyed", "min"}}},
		{"negative other items", with(base, "other_items_destroyed", -2.0), []fr{{"other_items_destroyed", "min"}}},
		{"fraction other items", with(base, "other_items_destroyed", 0.5), []fr{{"other_items_destroyed", "type"}}},
	})
}

func TestStockpileDestruction(t *testing.T) {
	f := builtin(t, "stockpile_destruction")
	base := jsonData(t, `{"event_date": "2025-09-01", "munition_type": "BLU-26", "munitions_destroyed": 120,
		"submunitions_destroyed": 5000, "method": "open_detonation", "site": "Range 3"}`)
	runCases(t, f, []vcase{
		{"complete", base, nil},
		{"no date", with(base, "event_date", nil), []fr{{"event_date", "required"}}},
		{"future date", with(base, "event_date", "2030-01-01"), []fr{{"event_date", "max"}}},
		{"negative munitions", with(base, "munitions_destroyed", -1.0), []fr{{"munitions_destroyed", "min"}}},
		{"negative submunitions", with(base, "submunitions_destroyed", -1.0), []fr{{"submunitions_destroyed", "min"}}},
		{"bad method", with(base, "method", "dumping"), []fr{{"method", "option"}}},
		{"munition type not text", with(base, "munition_type", true), []fr{{"munition_type", "type"}}},
	})
}

func TestRiskEducation(t *testing.T) {
	f := builtin(t, "risk_education")
	base := jsonData(t, `{"session_date": "2025-10-10", "adm1": "Savannakhet", "method": "face_to_face",
		"participants": {"female": {"0-4": 2, "5-12": 10, "13-17": 4, "18-59": 7, "60+": 1, "unknown": 0}, "male": {"5-12": 8}},
		"first_time_participants": 20}`)
	runCases(t, f, []vcase{
		{"complete", base, nil},
		{"no date", with(base, "session_date", nil), []fr{{"session_date", "required"}}},
		{"no adm1", with(base, "adm1", nil), []fr{{"adm1", "required"}}},
		{"bad method", with(base, "method", "radio"), []fr{{"method", "option"}}},
		{"default band rejected", with(base, "participants", map[string]any{"female": map[string]any{"0-17": 3.0}}), []fr{{"participants", "sadd"}}},
		{"negative first time", with(base, "first_time_participants", -1.0), []fr{{"first_time_participants", "min"}}},
		{"more first time than participants", with(base, "first_time_participants", 33.0), []fr{{"first_time_participants", "max"}}},
		{"first time equals participants", with(base, "first_time_participants", 32.0), nil},
	})
	if fd, _ := f.Field("participants"); !slices.Equal(fd.Bands, []string{"0-4", "5-12", "13-17", "18-59", "60+", "unknown"}) || !slices.Equal(fd.Sexes, DefaultSexes) {
		t.Errorf("participants bands %v sexes %v", fd.Bands, fd.Sexes)
	}
}

func TestNeedsAssessment(t *testing.T) {
	f := builtin(t, "needs_assessment")
	base := jsonData(t, `{"title": "Clearance of 12 CHAs", "article": "art4_clearance", "support_type": ["financial", "technical"],
		"activities": "Clear 12 CHAs", "quantity": 120000, "unit_cost": 1.5, "currency": "USD", "secured_national": 30000,
		"secured_international": 50000, "start_date": "2026-01-01", "end_date": "2027-12-31", "priority": "high",
		"status": "requested", "partners": "Donor A", "beneficiaries": {"female": {"18-59": 400}}, "gender_age_considerations": "Women's groups consulted"}`)
	runCases(t, f, []vcase{
		{"complete", base, nil},
		{"no title", with(base, "title", nil), []fr{{"title", "required"}}},
		{"bad article", with(base, "article", "art7"), []fr{{"article", "option"}}},
		{"no support type", with(base, "support_type", nil), []fr{{"support_type", "required"}}},
		{"empty support type", with(base, "support_type", []any{}), []fr{{"support_type", "required"}}},
		{"bad support type", with(base, "support_type", []any{"moral"}), []fr{{"support_type", "option"}}},
		{"negative quantity", with(base, "quantity", -1.0), []fr{{"quantity", "min"}}},
		{"negative unit cost", with(base, "unit_cost", -1.0), []fr{{"unit_cost", "min"}}},
		{"bad currency", with(base, "currency", "usd"), []fr{{"currency", "option"}}},
		{"other currency", with(base, "currency", "LAK"), nil},
		{"negative secured", with(base, "secured_national", -1.0), []fr{{"secured_national", "min"}}},
		{"secured equals total", with(base, "secured_international", 150000.0), nil},
		{"secured over total", with(base, "secured_international", 150001.0), []fr{{"secured_national", "max"}, {"secured_international", "max"}}},
		{"national alone over total", with(base, "secured_national", 180001.0, "secured_international", nil), []fr{{"secured_national", "max"}, {"secured_international", "max"}}},
		{"secured without cost", with(base, "quantity", nil), nil},
		{"bad quantity is reported once", with(base, "quantity", "many"), []fr{{"quantity", "type"}}},
		{"end before start", with(base, "end_date", "2025-12-31"), []fr{{"end_date", "order"}}},
		{"end equals start", with(base, "end_date", "2026-01-01"), nil},
		{"end without start", with(base, "start_date", nil), nil},
		{"bad priority", with(base, "priority", "urgent"), []fr{{"priority", "option"}}},
		{"bad status", with(base, "status", "done"), []fr{{"status", "option"}}},
		{"total_cost given is ignored", with(base, "total_cost", 1.0), nil},
	})
	got := f.Compute(base)
	if got["total_cost"] != 180000.0 || got["funding_gap"] != 100000.0 {
		t.Errorf("total_cost %v funding_gap %v, want 180000 and 100000", got["total_cost"], got["funding_gap"])
	}
	got = f.Compute(with(base, "secured_national", nil, "secured_international", nil))
	if got["funding_gap"] != 180000.0 {
		t.Errorf("funding_gap without secured funds %v, want 180000", got["funding_gap"])
	}
	got = f.Compute(with(base, "unit_cost", nil, "total_cost", 5.0))
	if _, ok := got["total_cost"]; ok {
		t.Errorf("total_cost without unit cost = %v, want absent", got["total_cost"])
	}
	if fd, _ := f.Field("article"); fd.OptionLabel("art4_clearance") != "Article 4: clearance" || fd.OptionLabel("zz") != "zz" {
		t.Errorf("OptionLabel: %q", fd.OptionLabel("art4_clearance"))
	}
	if fd, _ := f.Field("currency"); fd.Default != "USD" {
		t.Errorf("currency default %v", fd.Default)
	}
	if d := f.Defaults(); d["currency"] != "USD" {
		t.Errorf("Defaults() = %v", d)
	}
}

func TestEveryBuiltinCarriesLocation(t *testing.T) {
	for _, id := range BuiltinIDs {
		f := builtin(t, id)
		for _, want := range []struct{ id, typ string }{{"adm1", TypeText}, {"adm2", TypeText}, {"location", TypeGeopoint}} {
			fd, ok := f.Field(want.id)
			if !ok || fd.Type != want.typ {
				t.Errorf("%s: field %s missing or not %s", id, want.id, want.typ)
			}
		}
		if f.Version != 1 || f.Programme != "" {
			t.Errorf("%s: version %d programme %q", id, f.Version, f.Programme)
		}
		for _, fd := range f.Fields {
			if fd.Label == "" || fd.HXL == "" && !fd.Sensitive {
				t.Errorf("%s.%s: label %q hxl %q", id, fd.ID, fd.Label, fd.HXL)
			}
		}
	}
}

// TestDataDictionary pins the field ids and option values of domain.md.
func TestDataDictionary(t *testing.T) {
	dict := map[string]map[string][]string{
		"casualty": {
			"incident_date": nil, "adm1": nil, "adm2": nil, "village": nil, "location": nil,
			"cm_context":      {"attack", "remnant", "unknown"},
			"device_category": {"submunition", "cluster_munition_other", "landmine", "other_erw", "unknown"},
			"outcome":         {"killed", "injured", "unknown"}, "sex": {"female", "male", "unknown"}, "age": nil,
			"age_group":    {"child", "adult", "elderly", "unknown"},
			"civil_status": {"civilian", "deminer", "security_forces", "unknown"},
			"activity":     {"farming", "herding", "collecting_food_wood_water", "scrap_collection", "travelling", "playing", "household", "handling_device", "demining", "other", "unknown"},
			"disability":   {"yes", "no", "unknown"},
			"va_needs":     {"medical_care", "rehabilitation", "psychosocial", "education", "socio_economic", "legal"},
			"va_received":  {"medical_care", "rehabilitation", "psychosocial", "education", "socio_economic", "legal"},
			"name":         nil, "contact": nil, "consent": {"yes", "no"},
		},
		"hazard_area": {
			"area_code": nil, "survey_date": nil, "adm1": nil, "adm2": nil, "location": nil,
			"survey_type":        {"non_technical", "technical"},
			"status":             {"sha", "cha"},
			"area_m2":            nil,
			"evidence":           {"remnant_seen", "remnant_found", "accident_report", "witness_report", "craters", "unused_land", "military_records"},
			"remnant_types":      {"failed_cluster_munition", "abandoned_cluster_munition", "unexploded_submunition", "unexploded_bomblet"},
			"estimated_remnants": nil, "year_of_use": nil,
			"blocked_land_use": {"agriculture", "housing", "infrastructure", "access", "grazing", "other"},
			"beneficiaries":    nil,
		},
		"land_release": {
			"area_code": nil, "release_date": nil, "adm1": nil, "adm2": nil, "location": nil,
			"method":      {"cancelled", "reduced", "cleared"},
			"released_m2": nil, "clearance_depth_cm": nil, "submunitions_destroyed": nil, "other_items_destroyed": nil,
		},
		"stockpile_destruction": {
			"event_date": nil, "adm1": nil, "adm2": nil, "location": nil, "munition_type": nil,
			"munitions_destroyed": nil, "submunitions_destroyed": nil,
			"method": {"open_burning", "open_detonation", "industrial", "other"}, "site": nil,
		},
		"risk_education": {
			"session_date": nil, "adm1": nil, "adm2": nil, "location": nil,
			"method":       {"face_to_face", "mass_media", "digital", "school_curriculum"},
			"participants": nil, "first_time_participants": nil,
		},
		"needs_assessment": {
			"title": nil, "adm1": nil, "adm2": nil, "location": nil,
			"article":      {"art3_stockpile", "art4_clearance", "art4_risk_education", "art5_victim_assistance", "art6_crosscutting"},
			"support_type": {"technical", "material", "financial"},
			"activities":   nil, "quantity": nil, "unit_cost": nil, "currency": nil, "total_cost": nil,
			"secured_national": nil, "secured_international": nil, "funding_gap": nil, "start_date": nil, "end_date": nil,
			"priority": {"high", "medium", "low"}, "status": {"identified", "requested", "partially_met", "met"},
			"partners": nil, "beneficiaries": nil, "gender_age_considerations": nil,
		},
	}
	r := Builtin()
	if got := len(r.All()); got != len(dict) {
		t.Fatalf("Builtin holds %d form versions, want %d", got, len(dict))
	}
	for id, fields := range dict {
		t.Run(id, func(t *testing.T) {
			f := builtin(t, id)
			if len(f.Fields) != len(fields) {
				var ids []string
				for _, fd := range f.Fields {
					ids = append(ids, fd.ID)
				}
				t.Errorf("%d fields %v, want %d", len(f.Fields), ids, len(fields))
			}
			for fid, opts := range fields {
				fd, ok := f.Field(fid)
				if !ok {
					t.Errorf("field %s missing", fid)
					continue
				}
				if opts == nil {
					if len(fd.Options) > 0 && fid != "currency" {
						t.Errorf("%s has options", fid)
					}
					continue
				}
				var got []string
				for _, o := range fd.Options {
					got = append(got, o.Value)
				}
				if !slices.Equal(got, opts) {
					t.Errorf("%s options %v, want %v", fid, got, opts)
				}
			}
		})
	}
}

func TestNumbers(t *testing.T) {
	for _, c := range []struct {
		in   any
		want float64
		ok   bool
	}{
		{3.0, 3, true}, {float32(1.5), 1.5, true}, {int(2), 2, true}, {int8(-2), -2, true}, {int16(7), 7, true},
		{int32(8), 8, true}, {int64(9), 9, true}, {uint(1), 1, true}, {uint8(2), 2, true}, {uint16(3), 3, true},
		{uint32(4), 4, true}, {uint64(5), 5, true}, {json.Number("6.5"), 6.5, true}, {json.Number("x"), 0, false},
		{"7", 0, false}, {true, 0, false}, {nil, 0, false},
	} {
		got, ok := toFloat(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("toFloat(%#v) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestValidateDraft(t *testing.T) {
	f := builtin(t, "casualty")
	cases := []vcase{
		{"empty draft", map[string]any{}, nil},
		{"partial", map[string]any{"sex": "female"}, nil},
		{"personal data before consent is fine in a draft", map[string]any{"name": "x"}, nil},
		{"future date only checked on finalise", map[string]any{"incident_date": "2099-01-01"}, nil},
		{"bad type", map[string]any{"age": "ten"}, []fr{{"age", "type"}}},
		{"out of range", map[string]any{"age": 200.0}, []fr{{"age", "max"}}},
		{"bad option", map[string]any{"sex": "x"}, []fr{{"sex", "option"}}},
		{"unknown key", map[string]any{"x": 1.0}, []fr{{"x", "unknown"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkProblems(t, f, f.ValidateDraft(c.data), c.want) })
	}
}

func TestStripAndRelevant(t *testing.T) {
	f := builtin(t, "casualty")
	data := map[string]any{"sex": "male", "age": 30.0, "age_group": "adult", "bogus": 1.0, "adm2": "", "outcome": "injured", "va_needs": []any{}}
	got := f.Strip(data)
	want := map[string]any{"sex": "male", "age": 30.0, "outcome": "injured"}
	if !maps.EqualFunc(got, want, func(a, b any) bool { return a == b }) {
		t.Errorf("Strip = %v, want %v", got, want)
	}
	if len(data) != 7 {
		t.Error("Strip modified its input")
	}
	for _, c := range []struct {
		field string
		data  map[string]any
		want  bool
	}{
		{"va_needs", map[string]any{"outcome": "injured"}, true},
		{"va_needs", map[string]any{"outcome": "killed"}, false},
		{"va_needs", map[string]any{}, false},
		{"name", map[string]any{"consent": "yes"}, true},
		{"name", map[string]any{"consent": "no"}, false},
		{"sex", map[string]any{}, true},
		{"no_such_field", map[string]any{}, false},
	} {
		if got := f.Relevant(c.field, c.data); got != c.want {
			t.Errorf("Relevant(%s, %v) = %v, want %v", c.field, c.data, got, c.want)
		}
	}
}
