package forms

import (
	"strings"
	"testing"
)

func knownFields(ids ...string) func(string) bool {
	return func(id string) bool {
		for _, x := range ids {
			if x == id {
				return true
			}
		}
		return false
	}
}

func TestExprEval(t *testing.T) {
	vals := map[string]any{
		"n": 4.0, "m": 10.0, "s": "cha", "d1": "2024-03-12", "d2": "2026-03-11", "b": true,
		"multi": []string{"a", "b"}, "other": []string{"a"},
		"sadd": map[string]map[string]float64{"female": {"0-17": 3, "18-59": 5}, "male": {"60+": 2}},
	}
	known := knownFields("n", "m", "s", "d1", "d2", "b", "multi", "other", "sadd", "missing")
	cases := []struct {
		src  string
		want any
	}{
		{"1 + 2 * 3", 7.0},
		{"(1 + 2) * 3", 9.0},
		{"-n + m", 6.0},
		{"m / n", 2.5},
		{"m / 0", nil},
		{"n - 1 - 1", 2.0},
		{"n = 4", true},
		{"n == 4", true},
		{"n != 4", false},
		{"n <> 5", true},
		{"n < m and m <= 10", true},
		{"n > m or s = 'cha'", true},
		{"not b", false},
		{"s = \"cha\"", true},
		{"s = 4", false},
		{"s != 4", true},
		{"s < 4", nil},
		{"d1 < d2", true},
		{"missing + 1", nil},
		{"missing = 1", nil},
		{"missing > 1 or true", true},
		{"missing > 1 and false", false},
		{"missing > 1 and true", nil},
		{"not (missing > 1)", nil},
		{"s in ['sha', 'cha']", true},
		{"'c' in multi", false},
		{"'a' in multi", true},
		{"missing in ['x']", nil},
		{"'x' in missing", nil},
		{"'cha' in s", true},
		{"n in [4, 5]", true},
		{"selected(multi, 'b')", true},
		{"selected(missing, 'b')", false},
		{"count(multi)", 2.0},
		{"count(sadd)", 10.0},
		{"count(missing)", 0.0},
		{"subset(other, multi)", true},
		{"subset(multi, other)", false},
		{"subset(missing, other)", true},
		{"empty(missing)", true},
		{"empty(s)", false},
		{"filled(s)", true},
		{"age_group(n)", "child"},
		{"age_group(30)", "adult"},
		{"age_group(60)", "elderly"},
		{"age_group(missing)", "unknown"},
		{"if(n > 3, 'big', 'small')", "big"},
		{"if(missing, 'big', 'small')", "small"},
		{"coalesce(missing, 7)", 7.0},
		{"coalesce(n, 7)", 4.0},
		{"year(d1)", 2024.0},
		{"year('x')", nil},
		{"years_between(d1, d2)", 1.0},
		{"years_between(d2, d1)", -1.0},
		{"years_between(d1, '2026-03-12')", 2.0},
		{"round(2.345, 2)", 2.35},
		{"round(m / 3)", 3.0},
		{"today()", "2026-11-27"},
		{"year(today())", 2026.0},
		{"true and true", true},
		{"1e3", nil}, // no exponent syntax: "1e3" lexes as 1 then e3: a parse error, tested below
	}
	for _, c := range cases {
		t.Run(c.src, func(t *testing.T) {
			e, err := parseExpr(c.src, known)
			if c.src == "1e3" {
				if err == nil {
					t.Fatal("1e3 parsed")
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := e.eval(&env{vals: vals, today: "2026-11-27"})
			if got != c.want {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
		})
	}
}

func TestExprErrors(t *testing.T) {
	known := knownFields("a", "b")
	cases := []struct{ src, want string }{
		{"", "empty expression"},
		{"   ", "empty expression"},
		{"a +", "ends too early"},
		{"a = = b", "unexpected"},
		{"(a", `expected ")"`},
		{"a)", `unexpected ")"`},
		{"c = 1", `unknown field "c"`},
		{"foo(a)", `unknown function "foo"`},
		{"count(a, b)", "takes 1 argument"},
		{"today(a)", "takes 0 arguments"},
		{"if(a, b)", "takes 3 arguments"},
		{"'abc", "unterminated string"},
		{"a # b", "unexpected character"},
		{"1.2.3", "bad number"},
		{"and", "unexpected"},
		{strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100), "nested deeper"},
		{strings.Repeat("not ", 100) + "a", "nested deeper"},
		{strings.Repeat("-", 100) + "1", "nested deeper"},
		{strings.Repeat("a + ", 2000) + "a", "longer than"},
		{strings.Repeat("a + ", 300) + "a", "nested deeper than 256"},
	}
	for _, c := range cases {
		t.Run(c.src[:min(len(c.src), 20)], func(t *testing.T) {
			_, err := parseExpr(c.src, known)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// FuzzExpr checks that parsing and evaluating any text never panics.
func FuzzExpr(f *testing.F) {
	for _, s := range []string{
		"a + b * 2", "selected(m, 'x') and not empty(a)", "if(a > 1, 'x', coalesce(b, 0))",
		"a in ['x', 'y']", "count(s) >= 3 or subset(m, m)", "years_between(d, today()) <= 110",
		"round(a / b, 2)", "age_group(a)", "((((a))))", "-(-a)", "'unterminated", "a <> b == c",
	} {
		f.Add(s)
	}
	vals := map[string]any{
		"a": 3.0, "b": 0.0, "d": "2020-01-01", "m": []string{"x"},
		"s": map[string]map[string]float64{"female": {"0-17": 1}},
	}
	known := knownFields("a", "b", "d", "m", "s")
	f.Fuzz(func(t *testing.T, src string) {
		e, err := parseExpr(src, known)
		if err != nil {
			return
		}
		e.eval(&env{vals: vals, today: "2026-01-01"})
		e.eval(&env{vals: map[string]any{}})
	})
}
