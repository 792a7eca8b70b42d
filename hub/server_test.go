package hub_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/forms"
	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

func TestHealth(t *testing.T) {
	h := newTestHub(t, nil)
	resp := h.do("GET", protocol.PathHealth, "", nil)
	if resp.status != 200 || string(resp.body) != `{"status":"ok"}` {
		t.Errorf("health = %d %s", resp.status, resp.body)
	}
}

func TestWhoamiAndAuth(t *testing.T) {
	h := newTestHub(t, nil)
	for _, key := range []string{"collector", "viewer", "khm"} {
		resp := h.do("GET", protocol.PathWhoami, h.tokens[key], nil)
		var w protocol.Whoami
		if resp.status != 200 || json.Unmarshal(resp.body, &w) != nil {
			t.Fatalf("whoami %s: %d %s", key, resp.status, resp.body)
		}
		if w.DeviceID != h.ids[key] || w.Name != "Laptop "+key || w.Programme == "" || w.Role == "" {
			t.Errorf("whoami %s = %+v", key, w)
		}
	}
	tests := []struct {
		name string
		hdr  []string
	}{
		{"no token", nil},
		{"unknown token", []string{"Authorization", "Bearer not-a-token"}},
		{"revoked token", []string{"Authorization", "Bearer " + h.tokens["revoked"]}},
		{"wrong scheme", []string{"Authorization", "Basic " + h.tokens["collector"]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{protocol.PathWhoami, protocol.PathForms, protocol.PathPull} {
				resp := h.do("GET", path, "", nil, tc.hdr...)
				if resp.status != http.StatusUnauthorized || resp.errorCode() != protocol.CodeUnauthorized {
					t.Errorf("GET %s: %d %s, want 401 unauthorized", path, resp.status, resp.body)
				}
			}
			r := newRev(t, "LAO", casualty(1))
			resp := h.do("POST", protocol.PathPush, "", protocol.PushRequest{Revisions: []*record.Revision{r}}, tc.hdr...)
			if resp.status != http.StatusUnauthorized {
				t.Errorf("push: %d, want 401", resp.status)
			}
		})
	}
	if got := h.pullAll(h.tokens["collector"], 100); len(got) != 0 {
		t.Errorf("unauthenticated pushes stored %d revisions", len(got))
	}
}

func TestRevokeTakesEffectAtOnce(t *testing.T) {
	h := newTestHub(t, nil)
	tok := h.tokens["collector"]
	if resp := h.do("GET", protocol.PathWhoami, tok, nil); resp.status != 200 {
		t.Fatalf("before revoke: %d", resp.status)
	}
	if err := h.store.RevokeDevice(t.Context(), h.ids["collector"], today); err != nil {
		t.Fatal(err)
	}
	if resp := h.do("GET", protocol.PathWhoami, tok, nil); resp.status != http.StatusUnauthorized {
		t.Errorf("after revoke: %d, want 401", resp.status)
	}
}

func TestFailedAuthRateLimit(t *testing.T) {
	h := newTestHub(t, func(c *hub.Config) { c.AuthFailBurst = 3; c.AuthFailEvery = 10 * time.Second })
	for i := range 3 {
		if resp := h.do("GET", protocol.PathWhoami, fmt.Sprintf("guess-%d", i), nil); resp.status != 401 {
			t.Fatalf("guess %d: %d, want 401", i, resp.status)
		}
	}
	for _, tok := range []string{"guess-4", h.tokens["collector"]} {
		for _, rt := range authRoutes {
			resp := h.do(rt.Method, rt.Path, tok, []byte(`{"revisions":[]}`))
			if resp.status != http.StatusTooManyRequests || resp.errorCode() != protocol.CodeTooManyRequests {
				t.Fatalf("%s %s after the burst: %d %s, want 429", rt.Method, rt.Path, resp.status, resp.body)
			}
			if ra := resp.header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Errorf("429 without a useful Retry-After (%q)", ra)
			}
		}
	}
	if resp := h.do("GET", protocol.PathHealth, "", nil); resp.status != 200 {
		t.Errorf("health while limited: %d", resp.status)
	}
	h.clock.add(10 * time.Second)
	if resp := h.do("GET", protocol.PathWhoami, h.tokens["collector"], nil); resp.status != 200 {
		t.Errorf("after refill: %d, want 200", resp.status)
	}
	// Successful requests do not use the bucket up.
	for range 5 {
		if resp := h.do("GET", protocol.PathWhoami, h.tokens["collector"], nil); resp.status != 200 {
			t.Fatalf("good token: %d", resp.status)
		}
	}
}

func TestPushAndPull(t *testing.T) {
	h := newTestHub(t, nil)
	tok := h.tokens["collector"]
	var revs []*record.Revision
	for i := range 3 {
		revs = append(revs, newRev(t, "LAO", casualty(i)))
	}
	_, res := h.push(tok, revs...)
	if !slices.Equal(statuses(res), []string{"applied", "applied", "applied"}) {
		t.Fatalf("first push: %+v", res)
	}
	_, res = h.push(tok, revs[1], revs[0])
	if !slices.Equal(statuses(res), []string{"duplicate", "duplicate"}) {
		t.Errorf("re-send: %+v, want duplicates", res)
	}
	// Two laptops edit the same record: the second edit is a conflict,
	// both leaves stay, and a merge resolves it.
	d1, d2 := casualty(0), casualty(0)
	d1["age"], d2["age"] = 41.0, 42.0
	e1, _ := record.Next(revs[0].RecordID, []string{revs[0].Rev}, "casualty", 1, false, d1, record.Meta{Programme: "LAO"})
	e2, _ := record.Next(revs[0].RecordID, []string{revs[0].Rev}, "casualty", 1, false, d2, record.Meta{Programme: "LAO"})
	if _, res = h.push(tok, e1); res[0].Status != "applied" {
		t.Errorf("edit 1: %+v", res)
	}
	if _, res = h.push(h.tokens["collector2"], e2); res[0].Status != "conflict" {
		t.Errorf("edit 2: %+v, want conflict", res)
	}
	m, _ := record.Next(revs[0].RecordID, []string{e1.Rev, e2.Rev}, "casualty", 1, false, d2, record.Meta{Programme: "LAO"})
	if _, res = h.push(tok, m); res[0].Status != "applied" {
		t.Errorf("merge: %+v", res)
	}
	// A child in the same batch after its parent is fine.
	c1 := newRev(t, "LAO", casualty(7))
	c2, _ := record.Next(c1.RecordID, []string{c1.Rev}, "casualty", 1, true, c1.Data, record.Meta{Programme: "LAO"})
	if _, res = h.push(tok, c1, c2); !slices.Equal(statuses(res), []string{"applied", "applied"}) {
		t.Errorf("parent and child in one push: %+v", res)
	}

	want := []string{revs[0].Rev, revs[1].Rev, revs[2].Rev, e1.Rev, e2.Rev, m.Rev, c1.Rev, c2.Rev}
	for _, key := range []string{"collector", "viewer"} {
		for _, limit := range []int{1, 3, 500} {
			got := h.pullAll(h.tokens[key], limit)
			gotRevs := make([]string, len(got))
			for i, r := range got {
				gotRevs[i] = r.Rev
				if err := r.Verify(); err != nil {
					t.Errorf("pulled revision does not verify: %v", err)
				}
			}
			if !slices.Equal(gotRevs, want) {
				t.Errorf("%s pull (limit %d) = %v, want %v", key, limit, gotRevs, want)
			}
		}
	}
	if got := h.pullAll(h.tokens["khm"], 100); len(got) != 0 {
		t.Errorf("KHM sees %d LAO revisions", len(got))
	}
}

func TestViewerMayNotPush(t *testing.T) {
	h := newTestHub(t, nil)
	resp, _ := h.push(h.tokens["viewer"], newRev(t, "LAO", casualty(1)))
	if resp.status != http.StatusForbidden || resp.errorCode() != protocol.CodeForbidden {
		t.Errorf("viewer push: %d %s, want 403", resp.status, resp.body)
	}
	if got := h.pullAll(h.tokens["viewer"], 10); len(got) != 0 {
		t.Errorf("viewer push stored %d", len(got))
	}
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	z.Write(b)
	z.Close()
	return buf.Bytes()
}

func TestBadPushes(t *testing.T) {
	h := newTestHub(t, nil)
	tok := h.tokens["collector"]
	base := newRev(t, "LAO", casualty(0))
	if _, res := h.push(tok, base); res[0].Status != "applied" {
		t.Fatalf("baseline: %+v", res)
	}
	body := func(revs ...*record.Revision) []byte {
		b, _ := json.Marshal(protocol.PushRequest{Revisions: revs})
		return b
	}
	mismatch := newRev(t, "LAO", casualty(1))
	mismatch.Data["age"] = 99.0
	unknownForm, _ := record.NewRevision(record.NewID(), "no_such_form", 1, casualty(1), record.Meta{Programme: "LAO"})
	unknownVersion, _ := record.NewRevision(record.NewID(), "casualty", 99, casualty(1), record.Meta{Programme: "LAO"})
	orphan, _ := record.Next(base.RecordID, []string{"3-0123456789abcdef0123456789abcdef"}, "casualty", 1, false, casualty(2), record.Meta{Programme: "LAO"})
	foreignProg := newRev(t, "KHM", casualty(3))
	badData := casualty(4)
	badData["sex"] = "robot"
	delete(badData, "outcome")
	invalid := newRev(t, "LAO", badData)
	wrongTypeData := casualty(5)
	wrongTypeData["age"] = "thirty"
	wrongType := newRev(t, "LAO", wrongTypeData)
	notUUID, _ := record.NewRevision("record-1", "casualty", 1, casualty(9), record.Meta{Programme: "LAO"})
	upperUUID, _ := record.NewRevision(strings.ToUpper(record.NewID()), "casualty", 1, casualty(9), record.Meta{Programme: "LAO"})
	badRev := newRev(t, "LAO", casualty(6))
	badRev.Rev = "not-a-rev"
	// KHM's device edits LAO's record with KHM as programme: its own
	// programme, but the record is not its own.
	hijack, _ := record.Next(base.RecordID, []string{base.Rev}, "casualty", 1, false, casualty(8), record.Meta{Programme: "KHM"})

	big := make([]*record.Revision, protocol.MaxPushRevisions+1)
	for i := range big {
		big[i] = base
	}
	huge := append([]byte(`{"revisions":[],"pad":"`), bytes.Repeat([]byte("x"), protocol.MaxPushBytes)...)
	huge = append(huge, `"}`...)

	tests := []struct {
		name    string
		token   string
		body    []byte
		hdr     []string
		status  int
		code    string // error code for non-200
		results []string
		errHas  string
	}{
		{name: "malformed JSON", body: []byte(`{"revisions": [`), status: 400, code: "bad_request"},
		{name: "not an object", body: []byte(`[1,2]`), status: 400, code: "bad_request"},
		{name: "trailing data", body: []byte(`{"revisions": []} {}`), status: 400, code: "bad_request"},
		{name: "no revisions", body: []byte(`{}`), status: 400, code: "bad_request"},
		{name: "null revision", body: []byte(`{"revisions":[null]}`), status: 400, code: "bad_request"},
		{name: "wrong type form_version", body: []byte(`{"revisions":[{"record_id":"x","rev":"1-00000000000000000000000000000000","form_id":"casualty","form_version":"1"}]}`), status: 400, code: "bad_request"},
		{name: "wrong type data", body: []byte(`{"revisions":[{"record_id":"x","data":[1]}]}`), status: 400, code: "bad_request"},
		{name: "bad gzip", body: []byte("not gzip"), hdr: []string{"Content-Encoding", "gzip"}, status: 400, code: "bad_request"},
		{name: "unknown encoding", body: body(base), hdr: []string{"Content-Encoding", "br"}, status: 400, code: "bad_request"},
		{name: "too many revisions", body: body(big...), status: 413, code: "too_large"},
		{name: "body over 8 MiB", body: huge, status: 413, code: "too_large"},
		{name: "gzip over 8 MiB decompressed", body: gz(t, huge), hdr: []string{"Content-Encoding", "gzip"}, status: 413, code: "too_large"},
		{name: "rev not matching content", body: body(mismatch), status: 200, results: []string{"rejected"}, errHas: "does not match"},
		{name: "malformed rev", body: body(badRev), status: 200, results: []string{"rejected"}, errHas: "malformed"},
		{name: "record id not a UUID", body: body(notUUID, upperUUID), status: 200, results: []string{"rejected", "rejected"}, errHas: "UUID"},
		{name: "unknown form", body: body(unknownForm), status: 200, results: []string{"rejected"}, errHas: "no_such_form"},
		{name: "unknown form version", body: body(unknownVersion), status: 200, results: []string{"rejected"}, errHas: "casualty"},
		{name: "missing parent", body: body(orphan), status: 200, results: []string{"rejected"}, errHas: "parent"},
		{name: "another programme", body: body(foreignProg), status: 200, results: []string{"rejected"}, errHas: "programme"},
		{name: "another programme's record", token: h.tokens["khm"], body: body(hijack, base), status: 200, results: []string{"rejected", "rejected"}, errHas: "programme"},
		{name: "invalid data", body: body(invalid), status: 200, results: []string{"rejected"}, errHas: "sex"},
		{name: "wrong type in data", body: body(wrongType), status: 200, results: []string{"rejected"}, errHas: "age"},
		{name: "good and bad together", body: body(mismatch, base), status: 200, results: []string{"rejected", "duplicate"}},
	}
	before := h.pullAll(tok, 500)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token
			if token == "" {
				token = tok
			}
			resp := h.do("POST", protocol.PathPush, token, tc.body, tc.hdr...)
			if resp.status != tc.status {
				t.Fatalf("status %d (%s), want %d", resp.status, resp.body, tc.status)
			}
			if tc.status != 200 {
				if resp.errorCode() != tc.code {
					t.Errorf("code %q, want %q", resp.errorCode(), tc.code)
				}
			} else {
				var pr protocol.PushResponse
				if err := json.Unmarshal(resp.body, &pr); err != nil {
					t.Fatal(err)
				}
				got := statuses(pr.Results)
				if !slices.Equal(got, tc.results) {
					t.Errorf("results %+v, want %v", pr.Results, tc.results)
				}
				for _, r := range pr.Results {
					if r.Status == "rejected" && (r.Error == "" || !strings.Contains(r.Error, tc.errHas)) {
						t.Errorf("rejection reason %q does not mention %q", r.Error, tc.errHas)
					}
				}
			}
			if resp := h.do("GET", protocol.PathHealth, "", nil); resp.status != 200 {
				t.Errorf("hub unhealthy afterwards: %d", resp.status)
			}
			for _, key := range []string{"collector", "khm"} {
				after := h.pullAll(h.tokens[key], 500)
				want := 0
				if key == "collector" {
					want = len(before)
				}
				if len(after) != want {
					t.Errorf("%s now sees %d revisions, want %d: a bad push changed the data", key, len(after), want)
				}
			}
		})
	}
}

func TestGzipBothWays(t *testing.T) {
	h := newTestHub(t, nil)
	var revs []*record.Revision
	for i := range 20 {
		revs = append(revs, newRev(t, "LAO", casualty(i)))
	}
	b, _ := json.Marshal(protocol.PushRequest{Revisions: revs})
	resp := h.do("POST", protocol.PathPush, h.tokens["collector"], gz(t, b),
		"Content-Encoding", "gzip", "Accept-Encoding", "gzip")
	if resp.status != 200 || resp.header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip push: %d, Content-Encoding %q", resp.status, resp.header.Get("Content-Encoding"))
	}
	var pr protocol.PushResponse
	if err := json.Unmarshal(resp.body, &pr); err != nil || len(pr.Results) != 20 || pr.Results[0].Status != "applied" {
		t.Fatalf("gzip push answer: %v %s", err, resp.body)
	}
	resp = h.do("GET", protocol.PathPull, h.tokens["viewer"], nil, "Accept-Encoding", "gzip")
	var pull protocol.PullResponse
	if resp.header.Get("Content-Encoding") != "gzip" || json.Unmarshal(resp.body, &pull) != nil || len(pull.Revisions) != 20 {
		t.Errorf("gzip pull: %q, %d revisions", resp.header.Get("Content-Encoding"), len(pull.Revisions))
	}
	resp = h.do("GET", protocol.PathPull, h.tokens["viewer"], nil, "Accept-Encoding", "identity")
	if resp.header.Get("Content-Encoding") != "" {
		t.Errorf("pull without gzip accepted came back %q", resp.header.Get("Content-Encoding"))
	}
}

func TestPullParameters(t *testing.T) {
	h := newTestHub(t, nil)
	var revs []*record.Revision
	for i := range 12 {
		revs = append(revs, newRev(t, "LAO", casualty(i)))
	}
	h.push(h.tokens["collector"], revs...)
	cursorAt := func(n int) string {
		t.Helper()
		resp := h.do("GET", fmt.Sprintf("%s?limit=%d", protocol.PathPull, n), h.tokens["collector"], nil)
		var pr protocol.PullResponse
		if err := json.Unmarshal(resp.body, &pr); err != nil || len(pr.Revisions) != n {
			t.Fatalf("pull of %d: %v %s", n, err, resp.body)
		}
		return pr.Next
	}
	c5, c12 := cursorAt(5), cursorAt(12)
	// A cursor of another history: what a laptop holds after the hub was
	// restored from an older backup and number 12 went to another revision.
	other := hub.Cursor{Seq: 12, Rev: newRev(t, "LAO", casualty(99)).Rev}.String()
	beyond := hub.Cursor{Seq: 999999, Rev: revs[0].Rev}.String()
	tests := []struct {
		query  string
		status int
		code   string
		n      int
		more   bool
	}{
		{"", 200, "", 12, false},
		{"?limit=5", 200, "", 5, true},
		{"?limit=99999", 200, "", 12, false},
		{"?since=" + c12, 200, "", 0, false},
		{"?since=" + c5 + "&limit=3", 200, "", 3, true},
		{"?limit=0", 400, protocol.CodeBadRequest, 0, false},
		{"?limit=-3", 400, protocol.CodeBadRequest, 0, false},
		{"?limit=ten", 400, protocol.CodeBadRequest, 0, false},
		{"?since=abc", 400, protocol.CodeBadCursor, 0, false},
		{"?since=-1", 400, protocol.CodeBadCursor, 0, false},
		{"?since=999999", 400, protocol.CodeBadCursor, 0, false},
		{"?since=" + beyond, 400, protocol.CodeBadCursor, 0, false},
		{"?since=" + other, 400, protocol.CodeBadCursor, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			resp := h.do("GET", protocol.PathPull+tc.query, h.tokens["collector"], nil)
			if resp.status != tc.status {
				t.Fatalf("%d %s, want %d", resp.status, resp.body, tc.status)
			}
			if tc.status != 200 {
				if resp.errorCode() != tc.code {
					t.Errorf("code %q, want %q", resp.errorCode(), tc.code)
				}
				return
			}
			var pr protocol.PullResponse
			if err := json.Unmarshal(resp.body, &pr); err != nil {
				t.Fatal(err)
			}
			if len(pr.Revisions) != tc.n || pr.More != tc.more {
				t.Errorf("%d revisions, more %v; want %d, %v", len(pr.Revisions), pr.More, tc.n, tc.more)
			}
			if pr.Revisions == nil {
				t.Error(`"revisions" is null, want []`)
			}
		})
	}
}

func TestFormsList(t *testing.T) {
	h := newTestHub(t, nil)
	resp := h.do("GET", protocol.PathForms, h.tokens["viewer"], nil)
	var fl struct {
		Forms []struct {
			ID      string `json:"id"`
			Version int    `json:"version"`
			Fields  []any  `json:"fields"`
		} `json:"forms"`
	}
	if resp.status != 200 || json.Unmarshal(resp.body, &fl) != nil {
		t.Fatalf("forms: %d %s", resp.status, resp.body)
	}
	ids := map[string]bool{}
	for _, f := range fl.Forms {
		ids[f.ID] = true
		if f.Version < 1 || len(f.Fields) == 0 {
			t.Errorf("form %s: version %d, %d fields", f.ID, f.Version, len(f.Fields))
		}
	}
	for _, id := range []string{"casualty", "hazard_area", "land_release", "stockpile_destruction", "risk_education", "needs_assessment"} {
		if !ids[id] {
			t.Errorf("built-in %s missing from %v", id, ids)
		}
	}
	// Every definition served parses back into the form the hub validates with.
	var raw struct {
		Forms []json.RawMessage `json:"forms"`
	}
	json.Unmarshal(resp.body, &raw)
	for _, def := range raw.Forms {
		f, err := forms.Parse(def)
		if err != nil {
			t.Errorf("served definition does not parse: %v", err)
			continue
		}
		want, err := forms.Builtin().Get(f.ID, f.Version)
		if err != nil {
			t.Errorf("served %s v%d: %v", f.ID, f.Version, err)
			continue
		}
		if len(f.Fields) != len(want.Fields) || f.Title != want.Title {
			t.Errorf("served %s v%d differs from the built-in", f.ID, f.Version)
		}
	}
}

func TestUnknownPathAndMethod(t *testing.T) {
	h := newTestHub(t, nil)
	if resp := h.do("GET", "/api/v1/nope", "", nil); resp.status != 404 || resp.errorCode() != protocol.CodeNotFound {
		t.Errorf("unknown path: %d %s", resp.status, resp.body)
	}
	resp := h.do("GET", protocol.PathPush, h.tokens["collector"], nil)
	if resp.status != http.StatusMethodNotAllowed || resp.header.Get("Allow") != "POST" {
		t.Errorf("GET push: %d, Allow %q", resp.status, resp.header.Get("Allow"))
	}
}

func TestConcurrencyCap(t *testing.T) {
	h := newTestHub(t, func(c *hub.Config) { c.MaxConcurrent = 1; c.QueueWait = 50 * time.Millisecond })
	// A push whose body trickles in holds the only slot.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", h.url+protocol.PathPush, pr)
	req.Header.Set("Authorization", "Bearer "+h.tokens["collector"])
	done := make(chan int)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	pw.Write([]byte(`{"revisions":`))
	// Wait until the slow push is inside the handler.
	for i := 0; ; i++ {
		resp := h.do("GET", protocol.PathWhoami, h.tokens["viewer"], nil)
		if resp.status == http.StatusServiceUnavailable {
			break
		}
		if i > 200 {
			t.Fatal("the cap never engaged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, rt := range authRoutes {
		resp := h.do(rt.Method, rt.Path, h.tokens["collector"], []byte(`{"revisions":[]}`))
		if resp.status != http.StatusServiceUnavailable || resp.errorCode() != protocol.CodeUnavailable || resp.header.Get("Retry-After") == "" {
			t.Errorf("%s %s at the cap: %d %s, Retry-After %q", rt.Method, rt.Path, resp.status, resp.body, resp.header.Get("Retry-After"))
		}
	}
	if resp := h.do("GET", protocol.PathHealth, "", nil); resp.status != 200 {
		t.Errorf("health at the cap: %d", resp.status)
	}
	pw.Write([]byte(`[]}`))
	pw.Close()
	if st := <-done; st != 200 {
		t.Errorf("slow push: %d", st)
	}
	if resp := h.do("GET", protocol.PathWhoami, h.tokens["viewer"], nil); resp.status != 200 {
		t.Errorf("after the slow push: %d", resp.status)
	}
}

func TestMetricsAndLogs(t *testing.T) {
	h := newTestHub(t, nil)
	secret := casualty(1)
	secret["consent"] = "yes"
	secret["name"] = "Secret Survivor Name"
	r := newRev(t, "LAO", secret)
	_, res := h.push(h.tokens["collector"], r)
	h.push(h.tokens["collector"], r)
	h.do("GET", protocol.PathWhoami, "bogus-token-value", nil)
	resp := h.do("GET", hub.PathMetrics, "", nil)
	if resp.status != 200 {
		t.Fatalf("metrics: %d", resp.status)
	}
	m := string(resp.body)
	for _, want := range []string{
		`ccmhub_revisions_total{status="` + res[0].Status + `"} 1`,
		`ccmhub_revisions_total{status="duplicate"} 1`,
		`ccmhub_http_requests_total{code="200",route="/api/v1/sync/push"} 2`,
		`ccmhub_auth_failures_total 1`,
		`ccmhub_http_request_duration_seconds_bucket{route="/api/v1/sync/push"`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	logs := h.logs.String()
	if !strings.Contains(logs, `"path":"/api/v1/sync/push"`) || !strings.Contains(logs, h.ids["collector"]) ||
		!strings.Contains(logs, `"duplicate":1`) {
		t.Errorf("logs do not record requests: %s", logs)
	}
	for _, secret := range []string{"Secret Survivor", "Xiengkhouang", h.tokens["collector"], "bogus-token-value"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// authRoutes are the calls that need a token.
var authRoutes = []hub.Route{
	{Method: "GET", Path: protocol.PathWhoami},
	{Method: "GET", Path: protocol.PathForms},
	{Method: "POST", Path: protocol.PathPush},
	{Method: "GET", Path: protocol.PathPull},
}

// TestStoreFailure: when the store fails, every call answers 500 with a
// JSON error that reveals nothing, and health still answers.
func TestStoreFailure(t *testing.T) {
	h := newTestHub(t, nil)
	if err := h.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, rt := range authRoutes {
		resp := h.do(rt.Method, rt.Path, h.tokens["collector"], []byte(`{"revisions":[]}`))
		if resp.status != http.StatusInternalServerError || resp.errorCode() != protocol.CodeInternal {
			t.Errorf("%s %s with a closed store: %d %s", rt.Method, rt.Path, resp.status, resp.body)
		}
	}
	if resp := h.do("GET", protocol.PathHealth, "", nil); resp.status != 200 {
		t.Errorf("health: %d", resp.status)
	}
	if !strings.Contains(h.logs.String(), `"level":"ERROR"`) {
		t.Error("store failures are not logged")
	}
}

// TestConcurrentEditsKeepEveryLeaf: laptops push edits of one record at the
// same moment; the first applied becomes a leaf, every other one a
// conflict, and none is lost.
func TestConcurrentEditsKeepEveryLeaf(t *testing.T) {
	h := newTestHub(t, nil)
	base := newRev(t, "LAO", casualty(0))
	h.push(h.tokens["collector"], base)
	const n = 8
	edits := make([]*record.Revision, n)
	for i := range edits {
		d := casualty(0)
		d["age"] = float64(50 + i)
		edits[i], _ = record.Next(base.RecordID, []string{base.Rev}, "casualty", 1, false, d, record.Meta{Programme: "LAO"})
	}
	got := make(chan string, n)
	var wg sync.WaitGroup
	for _, e := range edits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(protocol.PushRequest{Revisions: []*record.Revision{e}})
			req, _ := http.NewRequest("POST", h.url+protocol.PathPush, bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+h.tokens["collector2"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				got <- err.Error()
				return
			}
			defer resp.Body.Close()
			var pr protocol.PushResponse
			json.NewDecoder(resp.Body).Decode(&pr)
			if len(pr.Results) != 1 {
				got <- fmt.Sprint(resp.StatusCode)
				return
			}
			got <- pr.Results[0].Status
		}()
	}
	wg.Wait()
	close(got)
	count := map[string]int{}
	for s := range got {
		count[s]++
	}
	if count["applied"] != 1 || count["conflict"] != n-1 {
		t.Errorf("statuses %v, want 1 applied and %d conflicts", count, n-1)
	}
	if revs := h.pullAll(h.tokens["viewer"], 3); len(revs) != n+1 {
		t.Errorf("pulled %d revisions, want %d", len(revs), n+1)
	}
}

// TestUnusablePublishedForm: a stored form that does not parse (say the
// forms package grew stricter) blocks neither pushes nor the form list.
func TestUnusablePublishedForm(t *testing.T) {
	h := newTestHub(t, nil)
	err := h.store.PublishForm(t.Context(), hub.PublishedForm{Programme: "LAO", FormID: "broken", Version: 1,
		Def: json.RawMessage(`{"id":"broken","version":1,"title":"Broken","fields":[{"id":"x","type":"no_such_type"}]}`), PublishedAt: today})
	if err != nil {
		t.Fatal(err)
	}
	broken, _ := record.NewRevision(record.NewID(), "broken", 1, map[string]any{"x": "y"}, record.Meta{Programme: "LAO"})
	_, res := h.push(h.tokens["collector"], newRev(t, "LAO", casualty(1)), broken)
	if !slices.Equal(statuses(res), []string{"applied", "rejected"}) {
		t.Errorf("push: %+v", res)
	}
	if resp := h.do("GET", protocol.PathForms, h.tokens["collector"], nil); resp.status != 200 || bytes.Contains(resp.body, []byte(`"broken"`)) {
		t.Errorf("forms: %d; the unusable form must not be served", resp.status)
	}
	if !strings.Contains(h.logs.String(), "published form unusable") {
		t.Error("the unusable form is not logged")
	}
}

// TestPullPageByteBudget checks over HTTP that a pull page stops before its
// revisions pass the byte budget, sets more, and still ends with every
// revision.
func TestPullPageByteBudget(t *testing.T) {
	const budget = 2000
	h := newTestHub(t, func(c *hub.Config) { c.MaxPullBytes = budget })
	var want []string
	var revs []*record.Revision
	for i := range 10 {
		r := newRev(t, "LAO", casualty(i))
		revs = append(revs, r)
		want = append(want, r.Rev)
	}
	h.push(h.tokens["collector"], revs...)
	var got []string
	since, pages := "", 0
	for range 100 {
		resp := h.do("GET", protocol.PathPull+"?limit=5000&since="+since, h.tokens["collector"], nil)
		var pr struct {
			Revisions []json.RawMessage `json:"revisions"`
			Next      string            `json:"next"`
			More      bool              `json:"more"`
		}
		if err := json.Unmarshal(resp.body, &pr); err != nil {
			t.Fatalf("pull: %d %s", resp.status, resp.body)
		}
		size := 0
		for _, raw := range pr.Revisions {
			size += len(raw)
			var r record.Revision
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			got = append(got, r.Rev)
		}
		if len(pr.Revisions) == 0 || size > budget {
			t.Fatalf("page of %d revisions and %d bytes; want 1 or more within %d", len(pr.Revisions), size, budget)
		}
		pages++
		since = pr.Next
		if !pr.More {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pulled %d revisions, want all %d in order", len(got), len(want))
	}
	if pages < 3 {
		t.Errorf("%d pages for 10 revisions of ~500 bytes within %d bytes a page; want several", pages, budget)
	}
}

// TestPushOfComputedFieldsRejected checks that a revision carrying a value
// for a calculated or note field is rejected: the app never sends them
// (design.md: "Calculated fields are not sent"), and storing them would
// keep a value the form did not compute.
func TestPushOfComputedFieldsRejected(t *testing.T) {
	h := newTestHub(t, nil)
	def := `{"id":"visit","version":1,"title":"Visit","fields":[
		{"id":"intro","type":"note","label":"Read this first"},
		{"id":"n","type":"integer","label":"Count"},
		{"id":"twice","type":"calculated","label":"Twice","calculate":"n * 2"}]}`
	if err := h.store.PublishForm(t.Context(), hub.PublishedForm{Programme: "LAO", FormID: "visit", Version: 1,
		Def: json.RawMessage(def), PublishedAt: today}); err != nil {
		t.Fatal(err)
	}
	visit := func(data map[string]any) *record.Revision {
		r, err := record.NewRevision(record.NewID(), "visit", 1, data, record.Meta{Programme: "LAO", DeviceID: "dev-collector"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	withAgeGroup := casualty(1)
	withAgeGroup["age_group"] = "adult"
	tests := []struct {
		name   string
		rev    *record.Revision
		status string
		errHas string
	}{
		{"calculated field of a built-in form", newRev(t, "LAO", withAgeGroup), "rejected", "age_group"},
		{"calculated field of a published form", visit(map[string]any{"n": 2.0, "twice": 4.0}), "rejected", "twice"},
		{"note field", visit(map[string]any{"n": 2.0, "intro": "x"}), "rejected", "intro"},
		{"only entered fields", visit(map[string]any{"n": 2.0}), "applied", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, res := h.push(h.tokens["collector"], tc.rev)
			if res[0].Status != tc.status || !strings.Contains(res[0].Error, tc.errHas) {
				t.Errorf("push: %+v, want %s mentioning %q", res[0], tc.status, tc.errHas)
			}
			if tc.status == "rejected" && !strings.Contains(res[0].Error, "not sent") {
				t.Errorf("reason %q does not say such fields are not sent", res[0].Error)
			}
		})
	}
	if got := h.pullAll(h.tokens["collector"], 500); len(got) != 1 {
		t.Errorf("%d revisions stored, want only the good one", len(got))
	}
}

// TestPushWithoutParentsOrData checks that a revision pushed without
// "parents" or "data" (their rev was computed with [] and {}) is served
// with [] and {}, as openapi.json says, and still verifies when pulled.
func TestPushWithoutParentsOrData(t *testing.T) {
	h := newTestHub(t, nil)
	if err := h.store.PublishForm(t.Context(), hub.PublishedForm{Programme: "LAO", FormID: "memo", Version: 1,
		Def:         json.RawMessage(`{"id":"memo","version":1,"title":"Memo","fields":[{"id":"text","type":"text","label":"Text"}]}`),
		PublishedAt: today}); err != nil {
		t.Fatal(err)
	}
	r, err := record.NewRevision(record.NewID(), "memo", 1, nil, record.Meta{Programme: "LAO", DeviceID: "dev-collector"})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	b, _ := json.Marshal(r)
	json.Unmarshal(b, &doc)
	delete(doc, "parents")
	delete(doc, "data")
	body, _ := json.Marshal(map[string]any{"revisions": []any{doc}})
	resp := h.do("POST", protocol.PathPush, h.tokens["collector"], body)
	var pr protocol.PushResponse
	if err := json.Unmarshal(resp.body, &pr); err != nil || len(pr.Results) != 1 || pr.Results[0].Status != "applied" {
		t.Fatalf("push: %d %s", resp.status, resp.body)
	}
	resp = h.do("GET", protocol.PathPull, h.tokens["collector"], nil)
	var raw struct {
		Revisions []json.RawMessage `json:"revisions"`
	}
	if err := json.Unmarshal(resp.body, &raw); err != nil || len(raw.Revisions) != 1 {
		t.Fatalf("pull: %d %s", resp.status, resp.body)
	}
	for _, want := range []string{`"parents":[]`, `"data":{}`} {
		if !bytes.Contains(raw.Revisions[0], []byte(want)) {
			t.Errorf("pulled revision %s lacks %s", raw.Revisions[0], want)
		}
	}
	var pulled record.Revision
	if err := json.Unmarshal(raw.Revisions[0], &pulled); err != nil {
		t.Fatal(err)
	}
	if err := pulled.Verify(); err != nil || pulled.Rev != r.Rev {
		t.Errorf("pulled revision: rev %s, Verify %v; want %s verifying", pulled.Rev, err, r.Rev)
	}
}

// TestTodayIsUTC checks that "today" for date rules is the hub's UTC time
// plus 14 hours whatever the hub's time zone: a hub clock in UTC-11 at
// 23:00 on the 26th is 10:00 UTC on the 27th, when a laptop in UTC+14 is
// already on the 28th.
func TestTodayIsUTC(t *testing.T) {
	samoa := time.FixedZone("UTC-11", -11*3600)
	now := time.Date(2026, 11, 26, 23, 0, 0, 0, samoa)
	h := newTestHub(t, func(c *hub.Config) { c.Now = func() time.Time { return now } })
	for _, tc := range []struct {
		date, status string
	}{
		{"2026-11-28", "applied"},
		{"2026-11-29", "rejected"},
	} {
		data := casualty(1)
		data["incident_date"] = tc.date
		if _, res := h.push(h.tokens["collector"], newRev(t, "LAO", data)); res[0].Status != tc.status {
			t.Errorf("incident on %s: %+v, want %s", tc.date, res[0], tc.status)
		}
	}
}

// TestPushOfAnotherDevicesRevision checks that a device may not push a new
// revision that claims another device's device_id, while re-sending one
// the hub already has stays a duplicate.
func TestPushOfAnotherDevicesRevision(t *testing.T) {
	h := newTestHub(t, nil)
	own := newRev(t, "LAO", casualty(1)) // device_id dev-collector
	if _, res := h.push(h.tokens["collector"], own); res[0].Status != "applied" {
		t.Fatalf("own revision: %+v", res[0])
	}
	forged := newRev(t, "LAO", casualty(2))
	anon, err := record.NewRevision(record.NewID(), "casualty", 1, casualty(3), record.Meta{Programme: "LAO"})
	if err != nil {
		t.Fatal(err)
	}
	_, res := h.push(h.tokens["collector2"], own, forged, anon)
	if got := statuses(res); !slices.Equal(got, []string{"duplicate", "rejected", "applied"}) {
		t.Errorf("collector2 pushing collector's revisions: %+v", res)
	}
	if !strings.Contains(res[1].Error, "device_id is not the pushing device's") {
		t.Errorf("reason %q", res[1].Error)
	}
	if got := h.pullAll(h.tokens["collector"], 500); len(got) != 2 {
		t.Errorf("%d revisions stored, want 2", len(got))
	}
}

// TestAcceptEncoding checks which Accept-Encoding headers get a gzip
// answer: q=0 in any spelling refuses it.
func TestAcceptEncoding(t *testing.T) {
	h := newTestHub(t, nil)
	var revs []*record.Revision
	for i := range 5 {
		revs = append(revs, newRev(t, "LAO", casualty(i)))
	}
	h.push(h.tokens["collector"], revs...)
	for _, tc := range []struct {
		accept string
		gzip   bool
	}{
		{"gzip", true},
		{"GZIP", true},
		{"br, gzip;q=0.5", true},
		{"gzip; q=1.0", true},
		{"x-gzip", true},
		{"*", true},
		{"", false},
		{"identity", false},
		{"gzip;q=0", false},
		{"gzip; q=0", false},
		{"gzip;q=0.0", false},
		{"gzip;q=0.000", false},
		{"gzip;Q=0", false},
		{"gzip;q=bogus", false},
		{"*;q=0", false},
		{"gzip;q=0, *", false},
		{"*, gzip;q=0", false},
		{"br, *;q=0.1", true},
	} {
		t.Run(tc.accept, func(t *testing.T) {
			resp := h.do("GET", protocol.PathPull, h.tokens["collector"], nil, "Accept-Encoding", tc.accept)
			if got := resp.header.Get("Content-Encoding") == "gzip"; got != tc.gzip || resp.status != 200 {
				t.Errorf("Accept-Encoding %q: status %d, gzip %v, want %v", tc.accept, resp.status, got, tc.gzip)
			}
		})
	}
}
