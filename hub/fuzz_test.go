package hub

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// FuzzPush feeds arbitrary bodies to the push decoder and the per-revision
// checks: they must never panic, must classify every failure as malformed
// or too large, and may pass only revisions that verify, belong to the
// device's programme and hold valid data for a known form.
func FuzzPush(f *testing.F) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	good, err := record.NewRevision("0192f0a0-0000-7000-8000-000000000001", "casualty", 1, map[string]any{
		"incident_date": "2024-03-12", "adm1": "Xiengkhouang", "outcome": "killed", "sex": "unknown",
	}, record.Meta{Programme: "LAO", SavedAt: now})
	if err != nil {
		f.Fatal(err)
	}
	b, _ := json.Marshal(protocol.PushRequest{Revisions: []*record.Revision{good}})
	f.Add(b)
	f.Add([]byte(`{"revisions":[]}`))
	f.Add([]byte(`{"revisions":[null]}`))
	f.Add([]byte(`{"revisions":[{"record_id":"x","rev":"1-00","form_id":"casualty","form_version":1,"data":{"age":"x"}}]}`))
	f.Add([]byte(`{"revisions":[{"data":{"sadd":{"female":{"0-17":-1}}}}]} trailing`))
	f.Add([]byte(`[`))

	reg := forms.Builtin()
	dev := &Device{ID: "d", Programme: "LAO", Role: protocol.RoleCollector}
	f.Fuzz(func(t *testing.T, body []byte) {
		revs, err := DecodePush(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified decode error: %v", err)
			}
			return
		}
		if len(revs) > protocol.MaxPushRevisions {
			t.Fatalf("decoded %d revisions", len(revs))
		}
		l := &lookup{reg: reg, reloaded: true}
		for _, r := range revs {
			if err := check(context.Background(), l, dev, r, now); err != nil {
				continue
			}
			if id, err := uuid.Parse(r.RecordID); err != nil || id.String() != r.RecordID {
				t.Fatalf("check passed record id %q", r.RecordID)
			}
			if r.Programme != "LAO" || r.Verify() != nil {
				t.Fatalf("check passed a revision that does not verify or is not LAO's: %+v", r)
			}
			form, err := reg.Get(r.FormID, r.FormVersion)
			if err != nil || form.Validate(r.Data, now.Add(clockSkew)) != nil {
				t.Fatalf("check passed invalid data for %s v%d", r.FormID, r.FormVersion)
			}
		}
	})
}
