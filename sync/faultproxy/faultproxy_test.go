package faultproxy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func start(t *testing.T) (*Proxy, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("echo:" + string(b)))
	}))
	t.Cleanup(srv.Close)
	p, err := Start(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, &hits
}

func post(c *http.Client, url, body string) (int, string, error) {
	resp, err := c.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestProxy(t *testing.T) {
	tests := []struct {
		name     string
		rule     Rule
		wantErr  bool
		status   int
		hitsWant int64 // server hits of the faulted request
	}{
		{name: "pass", rule: Rule{PathPrefix: "/other", Action: Respond, Status: 500}, status: 200, hitsWant: 1},
		{name: "cut before request", rule: Rule{Action: CutRequest}, wantErr: true, hitsWant: 0},
		{name: "cut inside request", rule: Rule{Action: CutRequest, Bytes: 20}, wantErr: true, hitsWant: 0},
		{name: "cut before response", rule: Rule{Action: CutResponse}, wantErr: true, hitsWant: 1},
		{name: "cut inside response", rule: Rule{Action: CutResponse, Bytes: 30}, wantErr: true, hitsWant: 1},
		{name: "503", rule: Rule{Method: "POST", Action: Respond, Status: 503, RetryAfter: "1"}, status: 503, hitsWant: 0},
		{name: "429", rule: Rule{Action: Respond, Status: 429}, status: 429, hitsWant: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, hits := start(t)
			p.Add(tt.rule)
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: false}}
			status, body, err := post(c, p.URL()+"/x", "hello")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && status != tt.status {
				t.Errorf("status %d, want %d (body %q)", status, tt.status, body)
			}
			if got := hits.Load(); got != tt.hitsWant {
				t.Errorf("server saw %d requests, want %d", got, tt.hitsWant)
			}
			// The fault fired once; the next request passes.
			status, body, err = post(c, p.URL()+"/x", "again")
			if err != nil || status != 200 || body != "echo:again" {
				t.Errorf("after the fault: %d %q %v", status, body, err)
			}
		})
	}
}

func TestSkipAndTimes(t *testing.T) {
	p, _ := start(t)
	p.Add(Rule{Skip: 1, Times: 2, Action: Respond, Status: 502})
	c := &http.Client{}
	var got []int
	for range 5 {
		status, _, err := post(c, p.URL()+"/y", "z")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, status)
	}
	want := []int{200, 502, 502, 200, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	if p.Faults() != 2 || p.Requests("POST", "/y") != 5 {
		t.Errorf("faults %d requests %d", p.Faults(), p.Requests("POST", "/y"))
	}
}

func TestDropAllAndClose(t *testing.T) {
	p, _ := start(t)
	p.Add(Rule{Action: Delay, Delay: 0})
	if _, _, err := post(http.DefaultClient, p.URL()+"/a", "b"); err != nil {
		t.Fatal(err)
	}
	p.DropAll()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := post(&http.Client{}, p.URL()+"/a", "b"); err == nil {
		t.Fatal("request through a closed proxy succeeded")
	} else if errors.Is(err, io.EOF) {
		t.Logf("closed proxy: %v", err)
	}
}
