// Package hub is the national hub of CCM Collect: the HTTP handlers of sync
// API v1 (design.md, "Sync API v1"), device authentication and the Store
// interface that the Badger store (hub/badgerstore, one node) and the
// PostgreSQL store (hub/pgstore, several hub processes on one database)
// implement.
//
// The division of work is fixed: the handlers decode, authenticate, check
// each revision on its own (rev matches content, programme is the device's,
// data valid for its form version), and hand the survivors to
// Store.Apply, which checks what needs the stored history (duplicate,
// parents known, record owned by the programme) and applies the batch
// atomically and durably before the handler answers.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/ccmcollect/ccmcollect/record"
)

// Errors stores return that callers must tell apart.
var (
	// ErrNotFound reports an unknown device, token or form.
	ErrNotFound = errors.New("not found")
	// ErrExists reports a device id, token hash or form version that is
	// already stored with different content.
	ErrExists = errors.New("already exists")
	// ErrBadCursor reports a pull cursor the hub did not issue.
	ErrBadCursor = errors.New("invalid cursor")
	// ErrLocked reports a Badger data directory that another process (a
	// running hub) holds.
	ErrLocked = errors.New("data directory is in use by another process (stop the hub or use --postgres)")
)

// Device is an enrolled field laptop or desk. Only the SHA-256 of its token
// is ever stored.
type Device struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Programme string    `json:"programme"`
	Role      string    `json:"role"`
	TokenHash [32]byte  `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is zero while the device may authenticate.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Revoked reports whether the device's token no longer authenticates.
func (d *Device) Revoked() bool { return !d.RevokedAt.IsZero() }

// PublishedForm is a custom form version published for one programme. Def
// is the definition exactly as published (JSON).
type PublishedForm struct {
	Programme   string          `json:"programme"`
	FormID      string          `json:"form_id"`
	Version     int             `json:"version"`
	Def         json.RawMessage `json:"definition"`
	PublishedAt time.Time       `json:"published_at"`
}

// Result is a store's verdict on one revision of a batch.
type Result struct {
	// Status is protocol.StatusApplied, StatusDuplicate, StatusConflict or
	// StatusRejected.
	Status string
	// Err says why a revision was rejected; it wraps record.ErrMissingParent,
	// ErrForeignRecord or ErrForeignDevice.
	Err error
}

// ErrForeignRecord reports a revision of a record that belongs to another
// programme, or that changes the record's form.
var ErrForeignRecord = errors.New("record belongs to another programme or form")

// ErrForeignDevice reports a new revision whose device_id is not the
// pushing device's: a device pushes only revisions made on it.
var ErrForeignDevice = errors.New("device_id is not the pushing device's")

// Page is one page of a pull: revisions as stored JSON (each one a
// record.Revision), the cursor after the last of them, and whether more
// revisions followed when the page was read.
type Page struct {
	Revisions []json.RawMessage
	Next      string
	More      bool
}

// Store keeps a hub's devices, published forms and revisions. Every method
// is safe for concurrent use, also from several processes where the store
// supports them (PostgreSQL).
type Store interface {
	// AddDevice stores a new device. It fails with ErrExists if the id or
	// the token hash is taken.
	AddDevice(ctx context.Context, d Device) error
	// DeviceByToken returns the device whose token has SHA-256 hash, revoked
	// or not, or ErrNotFound.
	DeviceByToken(ctx context.Context, hash [32]byte) (Device, error)
	// Devices returns every device, ordered by creation time then id.
	Devices(ctx context.Context) ([]Device, error)
	// RevokeDevice marks device id revoked at time at; revoking a revoked
	// device keeps the first time. It returns ErrNotFound for an unknown id.
	RevokeDevice(ctx context.Context, id string, at time.Time) error

	// PublishForm stores a custom form version. Publishing the same
	// programme, id and version again with identical Def is a no-op;
	// with different Def it fails with ErrExists.
	PublishForm(ctx context.Context, f PublishedForm) error
	// PublishedForms returns the forms published for programme ("" for
	// every programme), ordered by programme, form id, version.
	PublishedForms(ctx context.Context, programme string) ([]PublishedForm, error)

	// ApplyFrom applies revs, all of programme, pushed by device ("": not
	// checked) and each already checked on its own, as one atomic and
	// durable step: when it returns without error every applied revision
	// survives a crash, and when it returns an error nothing was applied.
	// It returns one Result per revision, in order: duplicate if the rev is
	// stored; rejected if its device_id is set and not device (a device
	// pushes only its own revisions), if a parent is neither
	// stored nor applied earlier in the batch, or if the record belongs to
	// another programme or form; else applied, or conflict when the record
	// now has two or more live leaves. Applied revisions get the next
	// sequence numbers of programme in batch order.
	ApplyFrom(ctx context.Context, programme, device string, revs []*record.Revision) ([]Result, error)
	// Apply is ApplyFrom with no pushing device (tools and seeding).
	Apply(ctx context.Context, programme string, revs []*record.Revision) ([]Result, error)
	// Pull returns up to limit revisions of programme committed after
	// cursor ("" = from the beginning) in commit order, and stops early
	// (More set) before a revision that would take the page's revisions
	// past maxBytes in all; a page holds at least one revision however
	// large, so a caller always makes progress. A caller that keeps
	// pulling with Page.Next sees every revision exactly once, also while
	// other processes apply batches. It fails with ErrBadCursor for a
	// cursor that is not one the store issued.
	Pull(ctx context.Context, programme, cursor string, limit, maxBytes int) (Page, error)

	// Close releases the store; it waits for calls in progress.
	Close() error
}
