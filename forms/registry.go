package forms

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"sync"
)

//go:embed builtin/*.json
var builtinFS embed.FS

// Registry holds form definitions by id and version. It is safe for
// concurrent use. A registered version never changes.
type Registry struct {
	mu    sync.RWMutex
	forms map[string]map[int]*Form
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{forms: map[string]map[int]*Form{}}
}

var (
	builtinOnce  sync.Once
	builtinForms []*Form
)

// BuiltinIDs are the ids of the six built-in forms of the data dictionary.
var BuiltinIDs = []string{"casualty", "hazard_area", "land_release", "needs_assessment", "risk_education", "stockpile_destruction"}

func loadBuiltins() []*Form {
	builtinOnce.Do(func() {
		names, err := fs.Glob(builtinFS, "builtin/*.json")
		if err != nil {
			panic(err)
		}
		sort.Strings(names)
		for _, n := range names {
			b, err := builtinFS.ReadFile(n)
			if err != nil {
				panic(err)
			}
			f, err := Parse(b)
			if err != nil {
				// The embedded definitions are tested; this is a build defect.
				panic(fmt.Sprintf("forms: built-in %s: %v", n, err))
			}
			builtinForms = append(builtinForms, f)
		}
	})
	return builtinForms
}

// Builtin returns a new registry holding the six built-in forms, parsed from
// the definitions embedded in the binary. Callers may Add to it.
func Builtin() *Registry {
	r := NewRegistry()
	for _, f := range loadBuiltins() {
		if err := r.Add(f); err != nil {
			panic(fmt.Sprintf("forms: built-in %s: %v", f.ID, err))
		}
	}
	return r
}

// Add registers a form version. Adding an identical definition again is a
// no-op; adding different content under an existing id and version fails
// with ErrBadDefinition, because a published version never changes.
func (r *Registry) Add(f *Form) error {
	if f == nil || f.index == nil {
		return fmt.Errorf("%w: form was not produced by Parse", ErrBadDefinition)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	vs := r.forms[f.ID]
	if old, ok := vs[f.Version]; ok {
		if old == f || sameContent(old, f) {
			return nil
		}
		return fmt.Errorf("%w: form %s version %d already exists with different content; publish a new version", ErrBadDefinition, f.ID, f.Version)
	}
	if vs == nil {
		vs = map[int]*Form{}
		r.forms[f.ID] = vs
	}
	vs[f.Version] = f
	return nil
}

func sameContent(a, b *Form) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// Get returns one version of a form; errors.Is(err, ErrUnknownForm) when the
// registry does not hold it.
func (r *Registry) Get(id string, version int) (*Form, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.forms[id][version]
	if !ok {
		if _, any := r.forms[id]; any {
			return nil, fmt.Errorf("%w: %s version %d", ErrUnknownForm, id, version)
		}
		return nil, fmt.Errorf("%w: %q", ErrUnknownForm, id)
	}
	return f, nil
}

// Latest returns the highest version of a form.
func (r *Registry) Latest(id string) (*Form, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var best *Form
	for _, f := range r.forms[id] {
		if best == nil || f.Version > best.Version {
			best = f
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownForm, id)
	}
	return best, nil
}

// Forms returns the latest version of each form, sorted by id.
func (r *Registry) Forms() []*Form {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Form, 0, len(r.forms))
	for _, vs := range r.forms {
		var best *Form
		for _, f := range vs {
			if best == nil || f.Version > best.Version {
				best = f
			}
		}
		out = append(out, best)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// All returns every version of every form, sorted by id then version.
func (r *Registry) All() []*Form {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Form
	for _, vs := range r.forms {
		for _, f := range vs {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Version < out[j].Version
	})
	return out
}
