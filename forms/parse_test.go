package forms

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		def  string
		want []string // substrings, each of which must be among the problems
	}{
		{"not json", `{`, []string{"not a valid form definition"}},
		{"trailing data", `{"id":"x","version":1,"title":"X","fields":[{"id":"a","type":"text","label":"A"}]} {}`, []string{"data after"}},
		{"unknown key", `{"id":"x","version":1,"title":"X","colour":"red","fields":[]}`, []string{`unknown field "colour"`}},
		{"everything wrong at once", `{"id":"X y","version":0,"title":"","programme":"lao","fields":[]}`,
			[]string{"id \"X y\"", "version must be 1", "title is required", "programme \"lao\"", "at least one field"}},
		{"field problems", `{"id":"x","version":1,"title":"X","fields":[
			{"id":"a","type":"txt","label":""},
			{"id":"a","type":"text","label":"A again"},
			{"id":"n","type":"integer","label":"N","min":5,"max":3},
			{"id":"t","type":"text","label":"T","min":1,"pattern":"("},
			{"id":"s","type":"select_one","label":"S"},
			{"id":"o","type":"select_multiple","label":"O","options":[{"value":"a b","label":"A"},{"value":"x","label":""},{"value":"x","label":"X"}]},
			{"id":"d","type":"date","label":"D","min_date":"yesterday"},
			{"id":"c","type":"calculated","label":"C","required":true},
			{"id":"g","type":"geopoint","label":"G","sexes":["f"]},
			{"id":"h","type":"text","label":"H","hxl":"affected"},
			{"id":"q","type":"integer","label":"Q","default":1.5},
			{"id":"r","type":"integer","label":"R","max":3,"default":4}
		]}`, []string{`unknown type "txt"`, "label is required", `field "a": defined twice`, "min 5 is greater than max 3",
			"min and max apply only", `pattern "("`, "needs options", `option value "a b"`, `option "x" needs a label`,
			`option "x" listed twice`, `date bound "yesterday"`, "cannot be required", "needs calculate",
			"sexes and bands apply only", `hxl "affected"`, "default 1.5: must be a whole number", "default 4: R: must be 3 or less"}},
		{"expression problems", `{"id":"x","version":1,"title":"X","fields":[
			{"id":"a","type":"integer","label":"A","relevant":"b = 1"},
			{"id":"b","type":"integer","label":"B","relevant":"b > 1"},
			{"id":"c","type":"calculated","label":"C","calculate":"d + 1"},
			{"id":"d","type":"calculated","label":"D","calculate":"a * 2"},
			{"id":"e","type":"calculated","label":"E","calculate":"today()"},
			{"id":"f","type":"integer","label":"F","calculate":"a"}
		],"constraints":[{"expr":"a >","message":"","fields":[]},{"expr":"a > 1","message":"m","fields":["zz"]}]}`,
			[]string{`field "b": relevant and required_if cannot refer to the field itself`,
				`field "c": calculate refers to calculated field "d"`, `field "e": calculate cannot use today()`,
				`field "f": calculate applies only`, `constraint 1: expression "a >"`, "constraint 1: message is required",
				"constraint 1: fields must name", `constraint 2: unknown field "zz"`}},
		{"column clash", `{"id":"x","version":1,"title":"X","fields":[{"id":"location","type":"geopoint","label":"L"},{"id":"location_lat","type":"decimal","label":"Lat"}]}`,
			[]string{`CSV column "location_lat" would appear twice`}},
		{"unknown field in expression", `{"id":"x","version":1,"title":"X","fields":[{"id":"a","type":"text","label":"A","relevant":"nope = 'x'"}]}`,
			[]string{`field "a": relevant: expression "nope = 'x'": unknown field "nope"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse([]byte(c.def))
			if f != nil || err == nil {
				t.Fatal("bad definition accepted")
			}
			if !errors.Is(err, ErrBadDefinition) {
				t.Fatalf("errors.Is(ErrBadDefinition) false: %v", err)
			}
			var de *DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("%T is not a *DefinitionError", err)
			}
			if !strings.HasPrefix(err.Error(), "bad form definition: ") || !strings.Contains(err.Error(), de.Problems[0]) {
				t.Errorf("Error() = %q", err.Error())
			}
			all := strings.Join(de.Problems, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("no problem mentions %q; got:\n%s", w, all)
				}
			}
			if len(de.Problems) < len(c.want) {
				t.Errorf("%d problems for %d expected", len(de.Problems), len(c.want))
			}
		})
	}
}

func TestParseCustomForm(t *testing.T) {
	def := `{"id": "mre_followup", "version": 2, "title": "Follow-up", "programme": "LAO",
	  "fields": [
	    {"id": "visited", "type": "boolean", "label": "Visited", "required": true},
	    {"id": "households", "type": "integer", "label": "Households", "min": 1, "required_if": "visited"},
	    {"id": "note1", "type": "note", "label": "Count every household once."},
	    {"id": "people", "type": "sadd", "label": "People", "sexes": ["female", "male"], "bands": ["child", "adult"]},
	    {"id": "total", "type": "calculated", "label": "Total", "calculate": "count(people)"}
	  ]}`
	f, err := Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	runCases(t, f, []vcase{
		{"ok", map[string]any{"visited": true, "households": 3.0, "people": map[string]any{"female": map[string]any{"child": 2.0}}}, nil},
		{"not visited", map[string]any{"visited": false}, nil},
		{"visited without households", map[string]any{"visited": true}, []fr{{"households", "required"}}},
		{"boolean as text", map[string]any{"visited": "yes"}, []fr{{"visited", "type"}}},
		{"missing boolean", map[string]any{}, []fr{{"visited", "required"}}},
		{"note has no value", map[string]any{"visited": false, "note1": "x"}, nil},
		{"custom band", map[string]any{"visited": false, "people": map[string]any{"unknown": map[string]any{"child": 1.0}}}, []fr{{"people", "sadd"}}},
	})
	if got := f.Compute(map[string]any{"people": map[string]any{"female": map[string]any{"child": 2.0}, "male": map[string]any{"adult": 3.0}}})["total"]; got != 5.0 {
		t.Errorf("total = %v", got)
	}
}

// TestBuiltinFilesRoundTrip checks that each embedded definition parses, and
// that a form marshalled back to JSON parses to the same form.
func TestBuiltinFilesRoundTrip(t *testing.T) {
	names, err := filepath.Glob("builtin/*.json")
	if err != nil || len(names) != 6 {
		t.Fatalf("builtin files %v, %v", names, err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if want := strings.TrimSuffix(filepath.Base(n), ".json"); f.ID != want {
			t.Errorf("%s holds form %q", n, f.ID)
		}
		out, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		g, err := Parse(out)
		if err != nil {
			t.Fatalf("%s marshalled does not parse: %v", n, err)
		}
		if !sameContent(f, g) {
			t.Errorf("%s changes through a JSON round trip", n)
		}
	}
}

// FuzzParse checks that no definition makes Parse panic, and that whatever
// it accepts can validate data without panicking.
func FuzzParse(f *testing.F) {
	names, _ := filepath.Glob("builtin/*.json")
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"id":"x","version":1,"title":"X","fields":[{"id":"a","type":"integer","label":"A","relevant":"b > 1"},{"id":"b","type":"calculated","label":"B","calculate":"a * 2"}]}`))
	f.Add([]byte(`{"id":"x","version":1,"title":"X","fields":[{"id":"s","type":"sadd","label":"S","bands":["a"]}],"constraints":[{"expr":"count(s) > 1","message":"m","fields":["s"]}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		form, err := Parse(b)
		if err != nil {
			var de *DefinitionError
			if !errors.As(err, &de) || len(de.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			return
		}
		data := map[string]any{}
		for _, fd := range form.Fields {
			data[fd.ID] = 1.0
		}
		_ = form.Validate(data, testNow)
		_ = form.Compute(data)
		_ = form.Flatten(data)
		_ = form.Columns()
	})
}

// TestDocExample keeps the example in docs/forms.md a valid definition.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/forms.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## A complete small example\n\n```json\n")
	if !ok {
		t.Fatal("docs/forms.md has no example")
	}
	def, _, _ := strings.Cut(rest, "```")
	f, err := Parse([]byte(def))
	if err != nil {
		t.Fatalf("the example in docs/forms.md does not parse: %v", err)
	}
	runCases(t, f, []vcase{
		{"visited", map[string]any{"visit_date": "2026-01-05", "adm1": "X", "visited": true, "households": 2.0,
			"reached": map[string]any{"female": map[string]any{"18+": 3.0}}}, nil},
		{"not visited", map[string]any{"visit_date": "2026-01-05", "adm1": "X", "visited": false, "reason": "weather"}, nil},
		{"not visited without reason", map[string]any{"visit_date": "2026-01-05", "adm1": "X", "visited": false}, []fr{{"reason", "required"}}},
		{"more households than people", map[string]any{"visit_date": "2026-01-05", "adm1": "X", "visited": true, "households": 4.0,
			"reached": map[string]any{"female": map[string]any{"18+": 3.0}}}, []fr{{"households", "max"}}},
	})
	if cols := strings.Join(f.Columns(), ", "); !strings.Contains(string(doc), cols[:60]) {
		t.Errorf("docs/forms.md does not list the example's columns %s", cols)
	}
}
