package hub

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestFailLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newFailLimiter(2, 10*time.Second, func() time.Time { return now })
	steps := []struct {
		advance time.Duration
		fail    bool
		blocked bool
	}{
		{0, false, false}, // unknown address: not blocked
		{0, true, false},  // 1 token left
		{0, true, true},   // none left
		{5 * time.Second, false, true},
		{5 * time.Second, false, false}, // one back after 10s
		{0, true, true},
		{time.Hour, false, false}, // refilled, capped at the burst
		{0, true, false},
		{0, true, true},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		if s.fail {
			l.fail("10.0.0.1")
		}
		wait, blocked := l.blocked("10.0.0.1")
		if blocked != s.blocked {
			t.Fatalf("step %d: blocked %v, want %v", i, blocked, s.blocked)
		}
		if blocked && (wait <= 0 || wait > 10*time.Second) {
			t.Errorf("step %d: wait %v", i, wait)
		}
		if _, other := l.blocked("10.0.0.2"); other {
			t.Fatalf("step %d: another address is blocked", i)
		}
	}
}

func TestFailLimiterBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newFailLimiter(1, time.Minute, func() time.Time { return now })
	for i := range 3 * maxBuckets {
		l.fail(fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255))
	}
	if n := len(l.buckets); n > maxBuckets {
		t.Errorf("%d buckets kept, want at most %d", n, maxBuckets)
	}
}

func TestCursor(t *testing.T) {
	const rev = "3-0123456789abcdef0123456789abcdef"
	for _, c := range []string{"", "1." + rev, "42." + rev, "9223372036854775807." + rev} {
		got, err := ParseCursor(c)
		if err != nil || got.String() != c {
			t.Errorf("ParseCursor(%q) = %+v, %v; round trip %q", c, got, err, got.String())
		}
	}
	for _, c := range []string{"0", "1", "42", "0." + rev, "01." + rev, "-1." + rev, "+1." + rev, "x", "1.0",
		"9223372036854775808." + rev, " 1." + rev, "1." + rev + " ", "1.3-0123", "1." + rev + "." + rev, "." + rev} {
		if _, err := ParseCursor(c); !errors.Is(err, ErrBadCursor) {
			t.Errorf("ParseCursor(%q) = %v, want ErrBadCursor", c, err)
		}
	}
}
