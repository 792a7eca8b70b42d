package hub

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// NewToken returns a new device token (32 random bytes, base64url without
// padding) and the SHA-256 hash that is the only thing the hub stores.
func NewToken() (token string, hash [32]byte) {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand panics on a broken source)
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken returns the SHA-256 of token: the key a device is found by.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// bearer returns the token of an "Authorization: Bearer T" header, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// clientAddr is the address failed authentications are counted by: the
// peer's IP. Proxy headers are ignored on purpose (they are forgeable); a
// hub behind a reverse proxy should rate limit there too.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// failLimiter is a token bucket per address for failed authentications:
// each failure takes a token; an address without tokens is refused (429)
// before its token is even checked, until the bucket refills. It is safe for
// concurrent use.
type failLimiter struct {
	burst float64       // bucket size
	every time.Duration // one token back per every
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxBuckets bounds the limiter's memory; beyond it full buckets are
// forgotten (a full bucket is the same as no bucket).
const maxBuckets = 10000

func newFailLimiter(burst int, every time.Duration, now func() time.Time) *failLimiter {
	return &failLimiter{burst: float64(burst), every: every, now: now, buckets: make(map[string]*bucket)}
}

// refill brings b up to date; l.mu must be held.
func (l *failLimiter) refill(b *bucket, now time.Time) {
	if el := now.Sub(b.at); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+float64(el)/float64(l.every))
		b.at = now
	}
}

// blocked reports whether addr is out of tokens, and if so how long until
// it has one again.
func (l *failLimiter) blocked(addr string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[addr]
	if !ok {
		return 0, false
	}
	now := l.now()
	l.refill(b, now)
	if b.tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - b.tokens) * float64(l.every)), true
}

// fail takes a token from addr's bucket.
func (l *failLimiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[addr] = b
	}
	l.refill(b, now)
	b.tokens = math.Max(0, b.tokens-1)
}

// prune forgets full buckets and, if that is not enough, arbitrary ones
// until the map is at three quarters of maxBuckets: memory stays bounded
// even when failures come from very many addresses (a forgotten address
// starts again with a full bucket). l.mu must be held.
func (l *failLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) <= maxBuckets*3/4 {
			break
		}
		delete(l.buckets, k)
	}
}
