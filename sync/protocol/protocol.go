// Package protocol holds the wire types and constants of sync API v1
// (design.md, "Sync API v1"), shared by the client sync engine and the hub so
// the two cannot drift apart. It imports nothing of the project but record.
package protocol

import "github.com/ccmcollect/ccmcollect/record"

// Paths of API v1.
const (
	PathHealth = "/api/v1/health"
	PathWhoami = "/api/v1/whoami"
	PathForms  = "/api/v1/forms"
	PathPush   = "/api/v1/sync/push"
	PathPull   = "/api/v1/sync/pull"
)

// Limits of API v1. A push beyond either limit is answered 413.
const (
	MaxPushRevisions = 1000
	MaxPushBytes     = 8 << 20 // of the decompressed body
	DefaultPullLimit = 500
	MaxPullLimit     = 5000
)

// Roles a device may have.
const (
	RoleCollector = "collector" // pushes and pulls its programme
	RoleViewer    = "viewer"    // only pulls
)

// Push result statuses.
const (
	StatusApplied   = "applied"   // stored; the record has at most one live leaf
	StatusDuplicate = "duplicate" // the hub already had this rev
	StatusConflict  = "conflict"  // stored; the record now has several live leaves
	StatusRejected  = "rejected"  // not stored; Error says why
)

// Error codes in an ErrorBody.
const (
	CodeBadRequest      = "bad_request"       // malformed JSON or parameters
	CodeBadCursor       = "bad_cursor"        // since is not a cursor of this hub's history: pull again from an empty since
	CodeUnauthorized    = "unauthorized"      // no, unknown or revoked token
	CodeForbidden       = "forbidden"         // the role may not do this
	CodeNotFound        = "not_found"         // no such path
	CodeTooLarge        = "too_large"         // body or batch over the limits
	CodeTooManyRequests = "too_many_requests" // rate limited; see Retry-After
	CodeUnavailable     = "unavailable"       // the hub is overloaded or shutting down
	CodeInternal        = "internal"          // the hub failed; try again later
)

// Health is the answer of GET /api/v1/health.
type Health struct {
	Status string `json:"status"`
}

// Whoami is the answer of GET /api/v1/whoami.
type Whoami struct {
	DeviceID  string `json:"device_id"`
	Name      string `json:"name"`
	Programme string `json:"programme"`
	Role      string `json:"role"`
}

// PushRequest is the body of POST /api/v1/sync/push.
type PushRequest struct {
	Revisions []*record.Revision `json:"revisions"`
}

// PushResult is the hub's answer for one pushed revision.
type PushResult struct {
	Rev    string `json:"rev"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// PushResponse answers a push, one result per revision in request order.
type PushResponse struct {
	Results []PushResult `json:"results"`
}

// PullResponse answers GET /api/v1/sync/pull.
type PullResponse struct {
	Revisions []*record.Revision `json:"revisions"`
	Next      string             `json:"next"`
	More      bool               `json:"more"`
}

// ErrorBody is the body of every 4xx and 5xx answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names an error by a stable code and explains it in words.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
