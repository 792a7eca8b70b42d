package record

import (
	"slices"
	"time"
)

// Meta is the envelope metadata of a revision: who saved it, where and when.
// It does not enter the rev.
type Meta struct {
	Programme string
	DeviceID  string
	User      string
	SavedAt   time.Time
}

// NewRevision returns a sealed first revision (no parents) of a new record.
func NewRevision(recordID, formID string, formVersion int, data map[string]any, m Meta) (*Revision, error) {
	return Next(recordID, nil, formID, formVersion, false, data, m)
}

// Next returns a sealed revision of recordID whose parents are parents.
// An edit names the current leaves as parents (all of them: that makes every
// edit of a conflicted record its merge); a deletion is a revision with
// deleted set and the last data kept, so history stays readable.
func Next(recordID string, parents []string, formID string, formVersion int, deleted bool, data map[string]any, m Meta) (*Revision, error) {
	r := &Revision{
		RecordID:    recordID,
		Parents:     slices.Clone(parents),
		FormID:      formID,
		FormVersion: formVersion,
		Programme:   m.Programme,
		DeviceID:    m.DeviceID,
		User:        m.User,
		SavedAt:     m.SavedAt.UTC().Truncate(time.Millisecond),
		Deleted:     deleted,
		Data:        cloneMap(data),
	}
	if r.Parents == nil {
		r.Parents = []string{}
	}
	if r.Data == nil {
		r.Data = map[string]any{}
	}
	if err := r.Seal(); err != nil {
		return nil, err
	}
	return r, nil
}
