package forms

import "testing"

func TestBuiltinLoads(t *testing.T) {
	r := Builtin()
	if got := len(r.Forms()); got != len(BuiltinIDs) {
		t.Fatalf("Builtin has %d forms, want %d", got, len(BuiltinIDs))
	}
	for _, id := range BuiltinIDs {
		if _, err := r.Latest(id); err != nil {
			t.Errorf("Latest(%q): %v", id, err)
		}
	}
}
