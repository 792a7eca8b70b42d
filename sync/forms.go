package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/storage"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// SettingForms holds the custom form definitions the hub served at the last
// successful forms fetch, as a JSON array of definitions exactly as served
// (built-ins excluded), so a restarted app knows them before it syncs again.
const SettingForms = "sync.forms"

// formsResponse is the answer of GET /api/v1/forms.
type formsResponse struct {
	Forms []json.RawMessage `json:"forms"`
}

// builtins holds the built-in forms, to tell which served definitions are
// built-in ones (the hub serves them too).
var builtins = forms.Builtin()

// isBuiltin reports whether f is a built-in form version.
func isBuiltin(f *forms.Form) bool {
	_, err := builtins.Get(f.ID, f.Version)
	return err == nil
}

// fetchForms fetches the programme's form definitions from the hub, adds the
// custom ones to the store's registry and keeps them in SettingForms. A
// definition that does not parse or clashes with a registered version is
// logged by id and version and skipped.
func (e *Engine) fetchForms(ctx context.Context, c *hubClient) error {
	var resp formsResponse
	if err := c.call(ctx, http.MethodGet, protocol.PathForms, nil, nil, true, &resp); err != nil {
		return err
	}
	if resp.Forms == nil {
		return fmt.Errorf("%w: forms answer without a forms list", ErrProtocol)
	}
	keep := addForms(e.store.Forms(), resp.Forms, e.log)
	b, err := json.Marshal(keep)
	if err != nil {
		return fmt.Errorf("encoding form definitions: %w", err)
	}
	if err := e.store.SetSetting(ctx, SettingForms, b); err != nil {
		return fmt.Errorf("saving form definitions: %w", err)
	}
	return nil
}

// addForms parses defs and adds each custom one to reg. It returns the
// definitions that are not built-in and were added (or already held with the
// same content). Failures are logged by id and version only, never contents.
func addForms(reg *forms.Registry, defs []json.RawMessage, log *slog.Logger) []json.RawMessage {
	keep := make([]json.RawMessage, 0, len(defs))
	for _, def := range defs {
		f, err := forms.Parse(def)
		if err != nil {
			var head struct {
				ID      string `json:"id"`
				Version any    `json:"version"`
			}
			_ = json.Unmarshal(def, &head)
			log.Warn("skipping a form definition that does not parse", "form", head.ID, "version", head.Version, "err", errSummary(err))
			continue
		}
		if isBuiltin(f) {
			continue
		}
		if err := reg.Add(f); err != nil {
			log.Warn("skipping a form definition that clashes with a known version", "form", f.ID, "version", f.Version)
			continue
		}
		keep = append(keep, def)
	}
	return keep
}

// errSummary keeps an error's category without the definition's text a
// parse error might quote.
func errSummary(err error) string {
	switch {
	case errors.Is(err, forms.ErrBadDefinition):
		return "invalid definition"
	default:
		return "unreadable definition"
	}
}

// LoadStoredForms adds to reg the custom form definitions the last sync
// kept in the store (SettingForms). A store that never fetched forms adds
// nothing; a stored definition that does not parse or clashes with one reg
// already holds is skipped, so reg stays usable either way.
func LoadStoredForms(ctx context.Context, s Store, reg *forms.Registry) error {
	b, err := s.Setting(ctx, SettingForms)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading stored form definitions: %w", err)
	}
	var defs []json.RawMessage
	if err := json.Unmarshal(b, &defs); err != nil {
		return fmt.Errorf("reading stored form definitions: %w", err)
	}
	addForms(reg, defs, slog.New(slog.DiscardHandler))
	return nil
}
