package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/ccmcollect/ccmcollect/storage"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// ErrProgrammeChange means Connect was given a token of another programme
// than the one the store already belongs to: its records would all be
// rejected by that hub.
var ErrProgrammeChange = errors.New("the token belongs to another programme than this store")

// CheckURL validates a hub URL and returns it normalised (no trailing slash,
// no query or fragment). Plain http:// is accepted only for loopback hosts
// (127.0.0.0/8, ::1, localhost) unless insecure is set; otherwise the error
// wraps ErrInsecureURL.
func CheckURL(raw string, insecure bool) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("hub URL: %w", err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("hub URL %q: want https://host[:port]", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("hub URL %q: no user, query or fragment allowed", u.Redacted())
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !insecure && !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("hub URL %s: %w", u.String(), ErrInsecureURL)
		}
	default:
		return "", fmt.Errorf("hub URL %q: scheme must be https (or http to this machine)", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Connect enrols the store with a hub: it checks the URL (see CheckURL),
// asks the hub who the token belongs to, and only then stores the URL, the
// token (in the store's encrypted settings) and the device identity
// (programme, device id and name, role; the user is kept). Nothing is
// stored when any step fails. A token the hub refuses gives an error
// matching ErrAuth; an unreachable hub one matching ErrUnreachable.
//
// Connecting a store that already belongs to a programme to a token of
// another programme fails with ErrProgrammeChange. Connecting to another hub
// URL restarts pulling from the beginning (cursors are the hub's own);
// applying is idempotent, so nothing is doubled.
func Connect(ctx context.Context, s Store, rawURL, token string, insecure bool) (protocol.Whoami, error) {
	base, err := CheckURL(rawURL, insecure)
	if err != nil {
		return protocol.Whoami{}, err
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return protocol.Whoami{}, errors.New("empty device token")
	}
	c := newHubClient(base, token, retryPolicy{
		attempts: 3, base: 300 * time.Millisecond, max: 3 * time.Second,
		maxWait: 10 * time.Second, timeout: 30 * time.Second, rnd: jitter,
	}, slog.New(slog.DiscardHandler), nil)
	defer c.close()
	w, err := c.whoami(ctx)
	if err != nil {
		return w, err
	}
	if w.Programme == "" || w.DeviceID == "" {
		return w, fmt.Errorf("%w: whoami without programme or device id", ErrProtocol)
	}
	id, err := s.Identity(ctx)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return w, fmt.Errorf("reading identity: %w", err)
	}
	if id.Programme != "" && id.Programme != w.Programme {
		return w, fmt.Errorf("%w: store is %s, token is %s", ErrProgrammeChange, id.Programme, w.Programme)
	}
	old, err := s.Setting(ctx, SettingHubURL)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return w, fmt.Errorf("reading hub URL: %w", err)
	}
	if len(old) > 0 && string(old) != base {
		if _, err := s.ApplyRemote(ctx, nil, ""); err != nil {
			return w, fmt.Errorf("resetting pull cursor for the new hub: %w", err)
		}
	}
	id.Programme, id.DeviceID, id.DeviceName, id.Role = w.Programme, w.DeviceID, w.Name, w.Role
	if err := s.SetIdentity(ctx, id); err != nil {
		return w, fmt.Errorf("storing identity: %w", err)
	}
	if err := s.SetSetting(ctx, SettingHubToken, []byte(token)); err != nil {
		return w, fmt.Errorf("storing token: %w", err)
	}
	if err := s.SetSetting(ctx, SettingHubURL, []byte(base)); err != nil {
		return w, fmt.Errorf("storing hub URL: %w", err)
	}
	return w, nil
}
