package app

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/badgerstore"
	"github.com/ccmcollect/ccmcollect/storage"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

// startHub serves a real hub (Badger on disk) over HTTP with one enrolled
// collector of LAO and returns its URL and the device token.
func startHub(t *testing.T) (url, token string) {
	t.Helper()
	st, err := badgerstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tok, hash := hub.NewToken()
	if err := st.AddDevice(context.Background(), hub.Device{ID: "dev-ui", Name: "Field laptop 1", Programme: "LAO",
		Role: protocol.RoleCollector, TokenHash: hash, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub.New(hub.Config{Store: st}).Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := st.Close(); err != nil {
			t.Errorf("closing hub store: %v", err)
		}
	})
	return srv.URL, tok
}

func TestSyncScreen(t *testing.T) {
	url, token := startHub(t)
	u, _ := newTestUI(t, Options{})
	unlockNew(t, u)
	ctx := context.Background()
	rev, err := u.store.Create(ctx, "casualty", map[string]any{"incident_date": "2024-03-12", "adm1": "Savannakhet", "outcome": "killed", "sex": "female"})
	if err != nil {
		t.Fatal(err)
	}

	u.show(4)
	settle(t, u)
	v := u.syncv

	t.Run("sync before setup", func(t *testing.T) {
		test.Tap(v.now)
		settle(t, u)
		if !strings.Contains(v.result.Text, "hub address") {
			t.Errorf("result = %q", v.result.Text)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		v.url.SetText(url)
		v.token.SetText("not-a-token")
		test.Tap(v.connect)
		settle(t, u)
		if !strings.Contains(v.who.Text, "refused") {
			t.Errorf("who = %q", v.who.Text)
		}
	})
	t.Run("connect", func(t *testing.T) {
		v.token.SetText(token)
		test.Tap(v.connect)
		settle(t, u)
		if !strings.Contains(v.who.Text, "Field laptop 1") || !strings.Contains(v.who.Text, "LAO") {
			t.Fatalf("who = %q", v.who.Text)
		}
		if v.token.Text != "" {
			t.Error("token left on screen after connecting")
		}
		if !strings.Contains(u.syncInd.Text, "waiting") || strings.Contains(u.syncInd.Text, "not set up") {
			t.Errorf("indicator = %q", u.syncInd.Text)
		}
	})
	t.Run("sync now", func(t *testing.T) {
		test.Tap(v.now)
		settle(t, u)
		if !strings.Contains(v.result.Text, "1 sent") {
			t.Fatalf("result = %q", v.result.Text)
		}
		r, err := u.store.Get(ctx, rev.RecordID)
		if err != nil || r.Status != storage.StatusSynced {
			t.Fatalf("record after sync: %+v %v", r, err)
		}
		if n, _ := u.store.OutboxLen(ctx); n != 0 {
			t.Errorf("outbox holds %d after sync", n)
		}
		if !strings.Contains(u.syncInd.Text, "last sync just now") || v.now.Disabled() {
			t.Errorf("indicator = %q", u.syncInd.Text)
		}
	})
}
