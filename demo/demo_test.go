package demo_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/demo"
	"github.com/ccmcollect/ccmcollect/forms"
)

var now = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

type rec struct {
	form string
	data map[string]any
}

func generate(t *testing.T, seed int64, n int) []rec {
	t.Helper()
	var out []rec
	err := demo.Generate(seed, n, now, func(formID string, data map[string]any) error {
		out = append(out, rec{formID, data})
		return nil
	})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return out
}

func TestGenerateValidates(t *testing.T) {
	reg := forms.Builtin()
	recs := generate(t, 1, 3000)
	if len(recs) != 3000 {
		t.Fatalf("got %d records, want 3000", len(recs))
	}
	counts := map[string]int{}
	areas := map[string]float64{}
	released := map[string]float64{}
	for i, r := range recs {
		counts[r.form]++
		f, err := reg.Latest(r.form)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		// Data must look as JSON decodes it, so round-trip it first.
		b, err := json.Marshal(r.data)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, r.data) {
			t.Fatalf("record %d (%s) is not JSON-shaped: %v", i, r.form, r.data)
		}
		if err := f.Validate(r.data, now); err != nil {
			t.Fatalf("record %d (%s) invalid: %v", i, r.form, err)
		}
		if got := f.Strip(r.data); !reflect.DeepEqual(got, r.data) {
			t.Fatalf("record %d (%s) holds values the store would strip", i, r.form)
		}
		switch r.form {
		case demo.HazardArea:
			code := r.data["area_code"].(string)
			if _, dup := areas[code]; dup {
				t.Fatalf("area code %s generated twice", code)
			}
			areas[code] = r.data["area_m2"].(float64)
		case demo.LandRelease:
			code := r.data["area_code"].(string)
			size, ok := areas[code]
			if !ok {
				t.Fatalf("record %d releases unknown or later area %s", i, code)
			}
			released[code] += r.data["released_m2"].(float64)
			if released[code] > size+1e-6 {
				t.Fatalf("area %s: released %v of %v m²", code, released[code], size)
			}
		}
	}
	for _, id := range forms.BuiltinIDs {
		if counts[id] == 0 {
			t.Errorf("no %s records", id)
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a := generate(t, 42, 500)
	b := generate(t, 42, 500)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different records")
	}
	c := generate(t, 43, 500)
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same records")
	}
}

func TestGenerateSmall(t *testing.T) {
	for _, n := range []int{0, 1, 6} {
		t.Run("", func(t *testing.T) {
			recs := generate(t, 7, n)
			if len(recs) != n {
				t.Fatalf("got %d records, want %d", len(recs), n)
			}
			if n == 6 {
				seen := map[string]bool{}
				for _, r := range recs {
					seen[r.form] = true
				}
				if len(seen) != 6 {
					t.Fatalf("6 records cover %d forms, want 6", len(seen))
				}
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	if err := demo.Generate(1, -1, now, func(string, map[string]any) error { return nil }); !errors.Is(err, demo.ErrBadSize) {
		t.Fatalf("negative n: got %v, want ErrBadSize", err)
	}
	stop := errors.New("stop")
	calls := 0
	err := demo.Generate(1, 100, now, func(string, map[string]any) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Fatalf("got %v after %d calls, want stop after 3", err, calls)
	}
}
