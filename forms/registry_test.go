package forms

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

func mustParse(t *testing.T, def string) *Form {
	t.Helper()
	f, err := Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRegistry(t *testing.T) {
	r := Builtin()
	v1, err := r.Get("casualty", 1)
	if err != nil || v1.ID != "casualty" {
		t.Fatalf("Get(casualty, 1) = %v, %v", v1, err)
	}
	for _, c := range []struct {
		id string
		v  int
	}{{"casualty", 2}, {"nope", 1}} {
		if _, err := r.Get(c.id, c.v); !errors.Is(err, ErrUnknownForm) {
			t.Errorf("Get(%s, %d) error %v, want ErrUnknownForm", c.id, c.v, err)
		}
	}
	if _, err := r.Latest("nope"); !errors.Is(err, ErrUnknownForm) {
		t.Errorf("Latest(nope) error %v", err)
	}

	custom := func(version int, label string) *Form {
		return mustParse(t, fmt.Sprintf(`{"id":"casualty","version":%d,"title":"Casualty","programme":"LAO","fields":[{"id":"a","type":"text","label":%q}]}`, version, label))
	}
	if err := r.Add(custom(2, "A")); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(custom(2, "A")); err != nil {
		t.Fatalf("re-adding identical content: %v", err)
	}
	if err := r.Add(custom(2, "B")); !errors.Is(err, ErrBadDefinition) {
		t.Fatalf("changing a published version: %v", err)
	}
	if err := r.Add(&Form{ID: "raw", Version: 1}); !errors.Is(err, ErrBadDefinition) {
		t.Fatalf("adding an unparsed form: %v", err)
	}
	if err := r.Add(nil); !errors.Is(err, ErrBadDefinition) {
		t.Fatalf("adding nil: %v", err)
	}
	if l, _ := r.Latest("casualty"); l.Version != 2 {
		t.Errorf("Latest version %d, want 2", l.Version)
	}
	if old, _ := r.Get("casualty", 1); old != v1 {
		t.Error("version 1 changed")
	}
	forms := r.Forms()
	if len(forms) != 6 || forms[0].ID != "casualty" || forms[0].Version != 2 {
		t.Errorf("Forms() = %d forms, first %s v%d", len(forms), forms[0].ID, forms[0].Version)
	}
	for i := 1; i < len(forms); i++ {
		if forms[i-1].ID >= forms[i].ID {
			t.Errorf("Forms() not sorted: %s before %s", forms[i-1].ID, forms[i].ID)
		}
	}
	all := r.All()
	if len(all) != 7 || all[0].ID != "casualty" || all[0].Version != 1 || all[1].Version != 2 {
		t.Errorf("All() = %d versions", len(all))
	}
	if other := Builtin(); len(other.All()) != 6 {
		t.Error("Builtin registries share state")
	}
	if got := NewRegistry().Forms(); len(got) != 0 {
		t.Errorf("empty registry has %d forms", len(got))
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r := Builtin()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := mustParse(t, fmt.Sprintf(`{"id":"f%d","version":1,"title":"F","fields":[{"id":"a","type":"text","label":"A"}]}`, i))
			if err := r.Add(f); err != nil {
				t.Error(err)
			}
			_ = r.Forms()
			_, _ = r.Latest("casualty")
			_ = r.All()
		}()
	}
	wg.Wait()
	if n := len(r.Forms()); n != 14 {
		t.Errorf("%d forms after concurrent adds, want 14", n)
	}
}
