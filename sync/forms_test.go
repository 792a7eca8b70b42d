package sync

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/hub"
)

const schoolVisit = `{"id": "school_visit", "version": 1, "title": "School visit", "programme": "LAO",
 "fields": [
   {"id": "visit_date", "type": "date", "label": "Date of the visit", "required": true},
   {"id": "pupils", "type": "integer", "label": "Pupils reached", "min": 0}
 ]}`

// publish publishes def on the hub for programme.
func (h *testHub) publish(programme, id string, version int, def string) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.store.PublishForm(context.Background(), hub.PublishedForm{Programme: programme, FormID: id,
		Version: version, Def: json.RawMessage(def), PublishedAt: today}); err != nil {
		h.t.Fatal(err)
	}
}

// TestPublishedFormsReachTheirProgramme: a form published for LAO reaches
// LAO's laptops at sync, records of it push and are applied, it survives a
// restart through LoadStoredForms, and another programme never gets it.
func TestPublishedFormsReachTheirProgramme(t *testing.T) {
	ctx := context.Background()
	h := newTestHub(t)
	h.publish("LAO", "school_visit", 1, schoolVisit)

	a := newClient(t, h, "a", nil)
	if _, err := a.store.Forms().Get("school_visit", 1); !errors.Is(err, forms.ErrUnknownForm) {
		t.Fatalf("before sync: Get = %v, want ErrUnknownForm", err)
	}
	a.sync()
	if _, err := a.store.Forms().Get("school_visit", 1); err != nil {
		t.Fatalf("after sync: %v", err)
	}
	r, err := a.store.Create(ctx, "school_visit", map[string]any{"visit_date": "2026-11-20", "pupils": 31.0})
	if err != nil {
		t.Fatalf("create a record of the published form: %v", err)
	}
	if res := a.sync(); res.Pushed != 1 || res.Rejected != 0 {
		t.Fatalf("push of the record: %+v, want 1 pushed", res)
	}
	found := false
	for _, hr := range h.revisions(h.tokens["a"]) {
		found = found || hr.Rev == r.Rev
	}
	if !found {
		t.Fatalf("the hub does not hold revision %s", r.Rev)
	}

	// A restart: a fresh store knows only the built-ins until the stored
	// definitions are loaded.
	a.close()
	a.open(nil)
	if _, err := a.store.Forms().Get("school_visit", 1); !errors.Is(err, forms.ErrUnknownForm) {
		t.Fatalf("reopened store before LoadStoredForms: Get = %v, want ErrUnknownForm", err)
	}
	if err := LoadStoredForms(ctx, a.store, a.store.Forms()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.Forms().Get("school_visit", 1); err != nil {
		t.Fatalf("after LoadStoredForms: %v", err)
	}
	raw, err := a.store.Setting(ctx, SettingForms)
	if err != nil {
		t.Fatal(err)
	}
	var defs []json.RawMessage
	if err := json.Unmarshal(raw, &defs); err != nil || len(defs) != 1 {
		t.Fatalf("stored definitions: %d (%v), want only the custom one", len(defs), err)
	}

	khm := newClient(t, h, "khm", nil)
	khm.sync()
	if _, err := khm.store.Forms().Get("school_visit", 1); !errors.Is(err, forms.ErrUnknownForm) {
		t.Fatalf("KHM laptop: Get = %v, want ErrUnknownForm", err)
	}
	if _, err := khm.store.Create(ctx, "school_visit", map[string]any{"visit_date": "2026-11-20"}); err == nil {
		t.Fatal("KHM laptop created a record of LAO's form")
	}
}

// TestLoadStoredForms covers a store that never synced forms and stored
// definitions that are broken or clash: none fails the load, and the good
// ones are added.
func TestLoadStoredForms(t *testing.T) {
	ctx := context.Background()
	clash := `{"id": "school_visit", "version": 1, "title": "Other", "fields": [{"id": "x", "type": "text", "label": "X"}]}`
	v2 := `{"id": "school_visit", "version": 2, "title": "School visit", "fields": [{"id": "x", "type": "text", "label": "X"}]}`
	tests := []struct {
		name    string
		stored  string // "" = setting absent
		wantV1  bool
		wantV2  bool
		wantErr bool
	}{
		{"never synced", "", false, false, false},
		{"one form", "[" + schoolVisit + "]", true, false, false},
		{"broken definition skipped", `[{"id": "bad", "version": 1}, ` + v2 + "]", false, true, false},
		{"clashing version skipped", "[" + schoolVisit + ", " + clash + ", " + v2 + "]", true, true, false},
		{"setting not JSON", "{", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, nil, "", nil)
			if tt.stored != "" {
				if err := c.store.SetSetting(ctx, SettingForms, []byte(tt.stored)); err != nil {
					t.Fatal(err)
				}
			}
			reg := forms.Builtin()
			err := LoadStoredForms(ctx, c.store, reg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("LoadStoredForms = %v, want error %v", err, tt.wantErr)
			}
			for v, want := range map[int]bool{1: tt.wantV1, 2: tt.wantV2} {
				if _, err := reg.Get("school_visit", v); (err == nil) != want {
					t.Errorf("school_visit version %d: Get = %v, want present %v", v, err, want)
				}
			}
			if _, err := reg.Get("casualty", 1); err != nil {
				t.Errorf("built-in lost: %v", err)
			}
		})
	}
}
