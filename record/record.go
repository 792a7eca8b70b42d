// Package record owns the revision model shared by the client store, the
// sync engine and the hub: a record is a tree of immutable revisions whose
// ids are derived from their content, so the same edit always has the same
// id on every node.
//
// The rules, from design.md:
//
//   - rev = "<gen>-<hash>", where gen is one more than the largest parent
//     generation (1 for a revision without parents) and hash is the lowercase
//     hex of the first 16 bytes of SHA-256 over the RFC 8785 canonical JSON of
//     {"record_id", "parents" (sorted), "form_id", "form_version", "deleted",
//     "data"}.
//   - Leaves are revisions that are no other revision's parent.
//   - The winner among leaves is the same on every node: a live leaf beats a
//     deleted one, then the higher gen, then the larger rev string.
//   - Two or more live leaves are a conflict; a revision whose parents are all
//     the leaves (a merge) resolves it.
//
// The package is pure: no I/O, no clock, no randomness except NewID.
package record

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Revision is one immutable version of a record, exactly as it travels on
// the wire (design.md, "A revision on the wire").
//
// Only RecordID, Parents, FormID, FormVersion, Deleted and Data enter the
// rev; Programme, DeviceID, User and SavedAt are envelope metadata.
type Revision struct {
	RecordID    string         `json:"record_id"`
	Rev         string         `json:"rev"`
	Parents     []string       `json:"parents"`
	FormID      string         `json:"form_id"`
	FormVersion int            `json:"form_version"`
	Programme   string         `json:"programme"`
	DeviceID    string         `json:"device_id"`
	User        string         `json:"user"`
	SavedAt     time.Time      `json:"saved_at"`
	Deleted     bool           `json:"deleted"`
	Data        map[string]any `json:"data"`
}

// Errors callers must tell apart.
var (
	// ErrBadRev reports a rev string that is not "<gen>-<32 hex digits>".
	ErrBadRev = errors.New("malformed revision id")
	// ErrRevMismatch reports a revision whose rev does not match its content.
	ErrRevMismatch = errors.New("revision id does not match its content")
	// ErrMissingParent reports a revision whose parent is not known.
	ErrMissingParent = errors.New("parent revision not known")
	// ErrBadRevision reports a structurally invalid revision (no record id,
	// no form, duplicate parents, …).
	ErrBadRevision = errors.New("invalid revision")
)

// hashLen is the number of hex digits in the hash part of a rev.
const hashLen = 32

// NewID returns a new record id: a UUIDv7, so ids sort by creation time.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// ParseRev splits a rev into its generation and hash.
func ParseRev(rev string) (gen int, hash string, err error) {
	g, h, ok := strings.Cut(rev, "-")
	if !ok || len(h) != hashLen {
		return 0, "", fmt.Errorf("%w: %q", ErrBadRev, rev)
	}
	gen, err = strconv.Atoi(g)
	if err != nil || gen < 1 || g[0] == '0' || g[0] == '+' {
		return 0, "", fmt.Errorf("%w: %q", ErrBadRev, rev)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return 0, "", fmt.Errorf("%w: %q", ErrBadRev, rev)
		}
	}
	return gen, h, nil
}

// Gen returns the generation of rev, or 0 if rev is malformed.
func Gen(rev string) int {
	g, _, err := ParseRev(rev)
	if err != nil {
		return 0
	}
	return g
}

// ComputeRev returns the rev that r's content determines. It ignores r.Rev.
func ComputeRev(r *Revision) (string, error) {
	gen := 1
	for _, p := range r.Parents {
		pg, _, err := ParseRev(p)
		if err != nil {
			return "", fmt.Errorf("parent: %w", err)
		}
		if pg+1 > gen {
			gen = pg + 1
		}
	}
	parents := make([]any, len(r.Parents))
	sorted := slices.Clone(r.Parents)
	slices.Sort(sorted)
	for i, p := range sorted {
		parents[i] = p
	}
	data := r.Data
	if data == nil {
		data = map[string]any{}
	}
	canon, err := Canonical(map[string]any{
		"record_id":    r.RecordID,
		"parents":      parents,
		"form_id":      r.FormID,
		"form_version": r.FormVersion,
		"deleted":      r.Deleted,
		"data":         data,
	})
	if err != nil {
		return "", fmt.Errorf("canonical form of %s: %w", r.RecordID, err)
	}
	sum := sha256.Sum256(canon)
	return strconv.Itoa(gen) + "-" + hex.EncodeToString(sum[:16]), nil
}

// Seal sorts r.Parents and sets r.Rev from r's content.
func (r *Revision) Seal() error {
	if err := r.checkShape(); err != nil {
		return err
	}
	slices.Sort(r.Parents)
	rev, err := ComputeRev(r)
	if err != nil {
		return err
	}
	r.Rev = rev
	return nil
}

// Verify reports whether r is well formed and r.Rev matches its content.
// It returns an error wrapping ErrBadRevision, ErrBadRev or ErrRevMismatch.
func (r *Revision) Verify() error {
	if err := r.checkShape(); err != nil {
		return err
	}
	if _, _, err := ParseRev(r.Rev); err != nil {
		return err
	}
	want, err := ComputeRev(r)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadRevision, err)
	}
	if want != r.Rev {
		return fmt.Errorf("%w: %s", ErrRevMismatch, r.Rev)
	}
	return nil
}

func (r *Revision) checkShape() error {
	switch {
	case r.RecordID == "":
		return fmt.Errorf("%w: no record_id", ErrBadRevision)
	case r.FormID == "":
		return fmt.Errorf("%w: no form_id", ErrBadRevision)
	case r.FormVersion < 1:
		return fmt.Errorf("%w: form_version must be 1 or more", ErrBadRevision)
	}
	seen := make(map[string]bool, len(r.Parents))
	for _, p := range r.Parents {
		if seen[p] {
			return fmt.Errorf("%w: parent %s listed twice", ErrBadRevision, p)
		}
		seen[p] = true
		if _, _, err := ParseRev(p); err != nil {
			return fmt.Errorf("%w: parent: %v", ErrBadRevision, err)
		}
	}
	return nil
}

// Gen returns r's generation (0 if r.Rev is malformed).
func (r *Revision) Gen() int { return Gen(r.Rev) }

// Clone returns a deep copy of r, so callers may keep it after the source
// changes. Data values are deep-copied for maps and slices.
func (r *Revision) Clone() *Revision {
	c := *r
	c.Parents = slices.Clone(r.Parents)
	c.Data = cloneMap(r.Data)
	return &c
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	case []string:
		return slices.Clone(x)
	default:
		return v
	}
}
