package forms_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
)

func ExampleForm_Validate() {
	f, err := forms.Builtin().Latest("casualty")
	if err != nil {
		panic(err)
	}
	data := map[string]any{"incident_date": "2024-03-12", "adm1": "Xieng Khouang", "outcome": "killed", "sex": "female", "age": 111.0}
	err = f.Validate(data, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	var ve *forms.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Printf("%s %s: %s\n", p.Field, p.Rule, p.Message)
		}
	}
	// Output:
	// age max: Age: must be between 0 and 110
}

func ExampleForm_Compute() {
	f, err := forms.Builtin().Latest("needs_assessment")
	if err != nil {
		panic(err)
	}
	out := f.Compute(map[string]any{"quantity": 1200.0, "unit_cost": 2.5, "secured_national": 1000.0})
	fmt.Println(out["total_cost"], out["funding_gap"])
	// Output:
	// 3000 2000
}

func ExampleParse() {
	_, err := forms.Parse([]byte(`{"id": "followup", "version": 1, "title": "Follow-up",
		"fields": [{"id": "visited", "type": "boolean", "label": "Visited", "relevant": "vistied"}]}`))
	var de *forms.DefinitionError
	if errors.As(err, &de) {
		for _, p := range de.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// field "visited": relevant: expression "vistied": unknown field "vistied" at offset 0
}
