package cli

import "testing"

// Export quotes text a spreadsheet would run as a formula; import must read
// the value back as it was entered.
func TestUnquoteFormula(t *testing.T) {
	tests := []struct{ in, want string }{
		{"'=HYPERLINK(\"x\")", "=HYPERLINK(\"x\")"},
		{"'+856 20 5555", "+856 20 5555"},
		{"'-3", "-3"},
		{"'@home", "@home"},
		{"'\tx", "\tx"},
		{"'quoted'", "'quoted'"}, // an ordinary apostrophe stays
		{"'", "'"},
		{"Ban Na", "Ban Na"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := unquoteFormula(tt.in); got != tt.want {
			t.Errorf("unquoteFormula(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
