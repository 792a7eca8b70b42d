package hub_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/hub"
	"github.com/ccmcollect/ccmcollect/hub/badgerstore"
	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

const benchRevisions, benchBatch = 100_000, protocol.MaxPushRevisions

// benchHub is a hub on a fresh Badger store with one collector.
func benchHub(b *testing.B) (url, token string) {
	b.Helper()
	s, err := badgerstore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return benchServe(b, s)
}

// benchServe serves a hub on s with one collector, whose token it returns.
func benchServe(b *testing.B, s hub.Store) (url, token string) {
	b.Helper()
	token, hash := hub.NewToken()
	if err := s.AddDevice(b.Context(), hub.Device{ID: "dev-collector", Name: "bench", Programme: "LAO", // the device_id newRev stamps
		Role: protocol.RoleCollector, TokenHash: hash, CreatedAt: today}); err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(hub.New(hub.Config{Store: s, Now: func() time.Time { return today }}).Handler())
	b.Cleanup(func() { ts.Close(); s.Close() })
	return ts.URL, token
}

// benchBodies returns the push bodies of 100,000 casualty revisions in
// batches of 1,000.
func benchBodies(b *testing.B) [][]byte {
	b.Helper()
	var bodies [][]byte
	for start := 0; start < benchRevisions; start += benchBatch {
		revs := make([]*record.Revision, benchBatch)
		for i := range revs {
			revs[i] = newRev(b, "LAO", casualty(start+i))
		}
		body, err := json.Marshal(protocol.PushRequest{Revisions: revs})
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	return bodies
}

func benchPush(b *testing.B, url, token string, bodies [][]byte) {
	b.Helper()
	for _, body := range bodies {
		req, _ := http.NewRequest("POST", url+protocol.PathPush, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var pr protocol.PushResponse
		err = json.NewDecoder(resp.Body).Decode(&pr)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || pr.Results[0].Status != protocol.StatusApplied {
			b.Fatalf("push: %d %v %+v", resp.StatusCode, err, pr.Results[0])
		}
	}
}

// BenchmarkHubPush pushes 100,000 casualty revisions in batches of 1,000
// over HTTP into a fresh Badger store (synced writes).
func BenchmarkHubPush(b *testing.B) {
	bodies := benchBodies(b)
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		url, token := benchHub(b)
		b.StartTimer()
		start := time.Now()
		benchPush(b, url, token, bodies)
		total += time.Since(start)
	}
	b.ReportMetric(float64(benchRevisions*b.N)/total.Seconds(), "revs/s")
}

// BenchmarkHubPull pulls the same 100,000 revisions in pages of 5,000,
// without gzip (identity) and with it.
func BenchmarkHubPull(b *testing.B) {
	url, token := benchHub(b)
	benchPush(b, url, token, benchBodies(b))
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				start := time.Now()
				n := pullThrough(b, url, token, enc)
				total += time.Since(start)
				if n != benchRevisions {
					b.Fatalf("pulled %d", n)
				}
			}
			b.ReportMetric(float64(benchRevisions*b.N)/total.Seconds(), "revs/s")
		})
	}
}

// pullThrough pages through everything and returns the number of
// revisions. It reads next and more from the end of each page and counts
// revisions by their "rev" keys, so the figure is the hub's, not a JSON
// decoder's.
func pullThrough(b *testing.B, url, token, enc string) int {
	since, n := "", 0
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	for {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s%s?since=%s&limit=%d", url, protocol.PathPull, since, protocol.MaxPullLimit), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		var body []byte
		if resp.Header.Get("Content-Encoding") == "gzip" {
			body = gunzip(b, resp.Body)
		} else {
			body, err = io.ReadAll(resp.Body)
		}
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("pull: %d %v", resp.StatusCode, err)
		}
		n += bytes.Count(body, []byte(`"rev":`))
		tail := body[bytes.LastIndex(body, []byte(`],"next":`))+2:]
		var end struct {
			Next string `json:"next"`
			More bool   `json:"more"`
		}
		if err := json.Unmarshal(append([]byte("{"), tail...), &end); err != nil {
			b.Fatalf("page end %q: %v", tail, err)
		}
		since = end.Next
		if !end.More {
			return n
		}
	}
}

func gunzip(b *testing.B, r io.Reader) []byte {
	b.Helper()
	z, err := gzip.NewReader(r)
	if err != nil {
		b.Fatal(err)
	}
	out, err := io.ReadAll(z)
	if err != nil {
		b.Fatal(err)
	}
	return out
}
