package hub

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ccmcollect/ccmcollect/record"
)

// Cursor is a parsed pull cursor: the sequence number and the rev of the
// last revision a client has already seen. The zero Cursor stands for ""
// (before the first revision).
//
// The rev makes a cursor belong to one history: a store accepts a cursor
// only if its own revision at Seq is Rev. A cursor from another hub, from
// before a restore (sequence numbers went back and were handed out again)
// or from a store that never reached Seq is refused with ErrBadCursor, so a
// client starts again from the beginning instead of silently skipping the
// revisions now stored under the numbers it thinks it has seen.
type Cursor struct {
	Seq uint64
	Rev string
}

// maxCursorLen bounds a cursor: 20 digits, a dot and a rev.
const maxCursorLen = 80

// ParseCursor parses a pull cursor "<seq>.<rev>" ("" is the zero Cursor).
// It fails with ErrBadCursor for anything else. It does not check that a
// store issued the cursor: Store.Pull does.
func ParseCursor(c string) (Cursor, error) {
	if c == "" {
		return Cursor{}, nil
	}
	bad := fmt.Errorf("%w: %q", ErrBadCursor, c)
	if len(c) > maxCursorLen {
		return Cursor{}, bad
	}
	s, rev, ok := strings.Cut(c, ".")
	if !ok || s == "" || s[0] == '0' || s[0] == '+' {
		return Cursor{}, bad
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return Cursor{}, bad
	}
	if _, _, err := record.ParseRev(rev); err != nil {
		return Cursor{}, bad
	}
	return Cursor{Seq: n, Rev: rev}, nil
}

// String returns the cursor's wire form ("" for the zero Cursor).
func (c Cursor) String() string {
	if c.Seq == 0 {
		return ""
	}
	return strconv.FormatUint(c.Seq, 10) + "." + c.Rev
}

// CheckCursor returns nil if the revision a store holds at c.Seq has rev
// (found false: it holds none), else an error wrapping ErrBadCursor. Stores
// call it for a non-zero cursor before serving a page.
func CheckCursor(c Cursor, found bool, rev string) error {
	if !found {
		return fmt.Errorf("%w: no revision %d on this hub", ErrBadCursor, c.Seq)
	}
	if rev != c.Rev {
		return fmt.Errorf("%w: revision %d on this hub is not the one the cursor names", ErrBadCursor, c.Seq)
	}
	return nil
}
