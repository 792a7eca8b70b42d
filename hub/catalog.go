package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ccmcollect/ccmcollect/forms"
)

// catalog knows the forms each programme may use: the built-ins plus the
// versions published for it. It caches one registry per programme and
// reloads a programme's published forms from the store when a form is not
// found, so a form published by another process (or `ccmhub form publish`
// against PostgreSQL) is picked up without a restart.
type catalog struct {
	store   Store
	log     *slog.Logger
	builtin *forms.Registry

	mu    sync.Mutex
	progs map[string]*forms.Registry
}

func newCatalog(s Store, log *slog.Logger) *catalog {
	return &catalog{store: s, log: log, builtin: forms.Builtin(), progs: make(map[string]*forms.Registry)}
}

// registry returns programme's registry, reading the store when reload is
// set or nothing is cached.
func (c *catalog) registry(ctx context.Context, programme string, reload bool) (*forms.Registry, error) {
	c.mu.Lock()
	r, ok := c.progs[programme]
	c.mu.Unlock()
	if ok && !reload {
		return r, nil
	}
	pub, err := c.store.PublishedForms(ctx, programme)
	if err != nil {
		return nil, err
	}
	r = forms.NewRegistry()
	for _, f := range c.builtin.All() {
		if err := r.Add(f); err != nil {
			return nil, fmt.Errorf("built-in form %s: %w", f.ID, err)
		}
	}
	for _, p := range pub {
		// A stored form that no longer parses or clashes (the forms
		// package changed its rules) is left out, loudly, rather than
		// blocking every push of the programme.
		f, err := forms.Parse(p.Def)
		if err == nil {
			err = r.Add(f)
		}
		if err != nil {
			c.log.ErrorContext(ctx, "published form unusable; pushes of it are rejected",
				slog.String("programme", p.Programme), slog.String("form", p.FormID),
				slog.Int("version", p.Version), slog.String("error", err.Error()))
		}
	}
	c.mu.Lock()
	c.progs[programme] = r
	c.mu.Unlock()
	return r, nil
}

// lookup resolves forms for one push: it reloads the programme's forms at
// most once per push, however many unknown forms the push names.
type lookup struct {
	c         *catalog
	programme string
	reg       *forms.Registry
	reloaded  bool
}

func (c *catalog) lookup(ctx context.Context, programme string) (*lookup, error) {
	reg, err := c.registry(ctx, programme, false)
	if err != nil {
		return nil, err
	}
	return &lookup{c: c, programme: programme, reg: reg}, nil
}

// form returns form id version, or an error wrapping forms.ErrUnknownForm.
// It is not safe for concurrent use.
func (l *lookup) form(ctx context.Context, id string, version int) (*forms.Form, error) {
	f, err := l.reg.Get(id, version)
	if err == nil || !errors.Is(err, forms.ErrUnknownForm) || l.reloaded {
		return f, err
	}
	l.reloaded = true
	reg, rerr := l.c.registry(ctx, l.programme, true)
	if rerr != nil {
		return nil, rerr
	}
	l.reg = reg
	return l.reg.Get(id, version)
}

// definitions returns every form version programme may use, as JSON
// definitions: built-ins as the hub parsed them, published ones exactly as
// published (leaving out any that no longer parse).
func (c *catalog) definitions(ctx context.Context, programme string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for _, f := range c.builtin.All() {
		b, err := json.Marshal(f)
		if err != nil {
			return nil, fmt.Errorf("encode form %s: %w", f.ID, err)
		}
		out = append(out, b)
	}
	pub, err := c.store.PublishedForms(ctx, programme)
	if err != nil {
		return nil, err
	}
	for _, p := range pub {
		if _, err := forms.Parse(p.Def); err != nil {
			continue // unusable (logged when a push needs the programme's forms)
		}
		out = append(out, p.Def)
	}
	return out, nil
}
