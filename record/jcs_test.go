package record

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

// The number vectors are those of RFC 8785, appendix B.
func TestCanonicalNumbers(t *testing.T) {
	tests := []struct {
		bits uint64
		want string
	}{
		{0x0000000000000000, "0"},
		{0x8000000000000000, "0"},
		{0x0000000000000001, "5e-324"},
		{0x8000000000000001, "-5e-324"},
		{0x7fefffffffffffff, "1.7976931348623157e+308"},
		{0xffefffffffffffff, "-1.7976931348623157e+308"},
		{0x4340000000000000, "9007199254740992"},
		{0xc340000000000000, "-9007199254740992"},
		{0x4430000000000000, "295147905179352830000"},
		{0x44b52d02c7e14af5, "9.999999999999997e+22"},
		{0x44b52d02c7e14af6, "1e+23"},
		{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
		{0x444b1ae4d6e2ef4e, "999999999999999700000"},
		{0x444b1ae4d6e2ef4f, "999999999999999900000"},
		{0x444b1ae4d6e2ef50, "1e+21"},
		{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
		{0x3eb0c6f7a0b5ed8d, "0.000001"},
		{0x41b3de4355555553, "333333333.3333332"},
		{0x41b3de4355555554, "333333333.33333325"},
		{0x41b3de4355555555, "333333333.3333333"},
		{0x41b3de4355555556, "333333333.3333334"},
		{0x41b3de4355555557, "333333333.33333343"},
		{0xbecbf647612f3696, "-0.0000033333333333333333"},
		{0x43143ff3c1cb0959, "1424953923781206.2"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := Canonical(math.Float64frombits(tt.bits))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Canonical(%x) = %s, want %s", tt.bits, got, tt.want)
			}
		})
	}
}

func TestCanonicalValues(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, "null"},
		{"bools", []any{true, false}, "[true,false]"},
		{"int forms agree", []any{3, int64(3), 3.0, json.Number("3.00"), uint8(3)}, "[3,3,3,3,3]"},
		{"escapes", "a\"b\\c\n\t\u0001\u001f/€", `"a\"b\\c\n\t\u0001\u001f/€"`},
		{"nested and sorted", map[string]any{"b": []string{"x"}, "a": map[string]any{"z": 1, "y": nil}}, `{"a":{"y":null,"z":1},"b":["x"]}`},
		// RFC 8785 §3.2.3: keys sort by UTF-16 code units, so U+1F600
		// (a surrogate pair, 0xD83D…) sorts before U+FB33.
		{"utf16 key order", map[string]any{"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001F600": 5, "\u0080": 6, "\u00f6": 7},
			"{\"\\r\":2,\"1\":4,\"\u0080\":6,\"\u00f6\":7,\"\u20ac\":1,\"\U0001F600\":5,\"\ufb33\":3}"},
		{"struct via json", struct {
			B int    `json:"b"`
			A string `json:"a"`
		}{2, "x"}, `{"a":"x","b":2}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCanonicalRejectsNonJSON(t *testing.T) {
	for _, v := range []any{math.NaN(), math.Inf(1), map[string]any{"c": make(chan int)}} {
		if _, err := Canonical(v); !errors.Is(err, ErrNotCanonicalizable) {
			t.Errorf("Canonical(%v) error = %v, want ErrNotCanonicalizable", v, err)
		}
	}
}

// A decode of the canonical form, re-canonicalised, is the same bytes.
func FuzzCanonical(f *testing.F) {
	f.Add(`{"b":1,"a":[1.5,"x",null,true]}`)
	f.Add(`{"sadd":{"female":{"0-17":3}},"n":1e21}`)
	f.Add(`[0.000001, 1e-7, -0, 123456789012345678901234567890]`)
	f.Fuzz(func(t *testing.T, in string) {
		var v any
		if json.Unmarshal([]byte(in), &v) != nil {
			return
		}
		c1, err := Canonical(v)
		if err != nil {
			return
		}
		var back any
		if err := json.Unmarshal(c1, &back); err != nil {
			t.Fatalf("canonical output is not JSON: %s: %v", c1, err)
		}
		c2, err := Canonical(back)
		if err != nil {
			t.Fatal(err)
		}
		if string(c1) != string(c2) {
			t.Fatalf("not stable: %s vs %s", c1, c2)
		}
	})
}
