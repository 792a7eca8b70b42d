package forms

import (
	"encoding/json"
	"testing"
)

// BenchmarkValidate measures what the hub spends per pushed revision.
func BenchmarkValidate(b *testing.B) {
	f, err := Builtin().Latest("casualty")
	if err != nil {
		b.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(`{"incident_date": "2024-03-12", "adm1": "Xieng Khouang", "adm2": "Pek", "village": "Ban Na",
		"location": {"lat": 19.45, "lon": 103.2, "accuracy_m": 8}, "cm_context": "remnant", "device_category": "submunition",
		"outcome": "injured", "sex": "female", "age": 12, "civil_status": "civilian", "activity": "farming", "disability": "yes",
		"va_needs": ["medical_care", "rehabilitation"], "va_received": ["medical_care"], "consent": "yes", "name": "A", "contact": "B"}`), &data); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := f.Validate(data, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFlatten measures CSV export per record.
func BenchmarkFlatten(b *testing.B) {
	f, err := Builtin().Latest("needs_assessment")
	if err != nil {
		b.Fatal(err)
	}
	data := map[string]any{"title": "T", "support_type": []any{"financial"}, "quantity": 10.0, "unit_cost": 2.5,
		"beneficiaries": map[string]any{"female": map[string]any{"0-17": 3.0}}}
	b.ReportAllocs()
	for b.Loop() {
		_ = f.Flatten(data)
	}
}

// BenchmarkParse measures loading a definition (the hub does it on publish
// and on start).
func BenchmarkParse(b *testing.B) {
	def, err := builtinFS.ReadFile("builtin/needs_assessment.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(def); err != nil {
			b.Fatal(err)
		}
	}
}
