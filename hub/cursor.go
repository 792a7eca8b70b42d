package hub

import (
	"fmt"
	"strconv"
)

// ParseCursor returns the sequence number a pull cursor stands for: ""
// is 0 (before the first revision); any other cursor is the decimal
// sequence number of the last revision already seen. Stores share this
// encoding, so a cursor stays valid when a hub moves between processes.
func ParseCursor(c string) (uint64, error) {
	if c == "" {
		return 0, nil
	}
	if len(c) > 20 || c[0] == '0' || c[0] == '+' {
		return 0, fmt.Errorf("%w: %q", ErrBadCursor, c)
	}
	n, err := strconv.ParseUint(c, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrBadCursor, c)
	}
	return n, nil
}

// FormatCursor returns the cursor for sequence number seq (0 gives "").
func FormatCursor(seq uint64) string {
	if seq == 0 {
		return ""
	}
	return strconv.FormatUint(seq, 10)
}
