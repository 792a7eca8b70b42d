package hub_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The OpenAPI description in docs/openapi.json is checked against the
// handlers: every route is described, every response a test sees is
// documented and matches its schema, and (when the whole suite runs) every
// documented status was seen by some test.

type spec struct {
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas   map[string]map[string]any `json:"schemas"`
		Responses map[string]response3      `json:"responses"`
	} `json:"components"`
}

type operation struct {
	Responses map[string]response3 `json:"responses"`
}

type response3 struct {
	Ref     string `json:"$ref"`
	Content map[string]struct {
		Schema map[string]any `json:"schema"`
	} `json:"content"`
}

var (
	specOnce sync.Once
	theSpec  *spec
	specErr  error

	observedMu sync.Mutex
	observed   = map[string]bool{} // "METHOD path status"
)

func loadSpec(t testing.TB) *spec {
	t.Helper()
	specOnce.Do(func() {
		b, err := os.ReadFile("../docs/openapi.json")
		if err != nil {
			specErr = err
			return
		}
		theSpec = new(spec)
		specErr = json.Unmarshal(b, theSpec)
	})
	if specErr != nil {
		t.Fatalf("docs/openapi.json: %v", specErr)
	}
	return theSpec
}

// documented returns the response the spec gives for method, path and
// status, with $ref resolved.
func (s *spec) documented(method, path string, status int) (response3, bool) {
	op, ok := s.Paths[path][strings.ToLower(method)]
	if !ok {
		return response3{}, false
	}
	r, ok := op.Responses[strconv.Itoa(status)]
	if !ok {
		return response3{}, false
	}
	if r.Ref != "" {
		r, ok = s.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")]
	}
	return r, ok
}

// validate checks v against schema (type, required, properties, items,
// enum, pattern-free) and returns the problems.
func (s *spec) validate(schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		return s.validate(s.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")], v, at)
	}
	var probs []string
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object, got %T", at, v)}
		}
		req, _ := schema["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				probs = append(probs, fmt.Sprintf("%s: required property %q missing", at, r))
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for k, pv := range m {
			if ps, ok := props[k].(map[string]any); ok {
				probs = append(probs, s.validate(ps, pv, at+"."+k)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an array, got %T", at, v)}
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range a {
				probs = append(probs, s.validate(items, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return []string{fmt.Sprintf("%s: want a string, got %T", at, v)}
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			return []string{fmt.Sprintf("%s: want an integer, got %v", at, v)}
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return []string{fmt.Sprintf("%s: want a boolean, got %T", at, v)}
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		probs = append(probs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	return probs
}

// recordingWriter keeps a copy of what a handler writes.
type recordingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// checkAgainstSpec wraps a hub handler so that every answer is checked
// against docs/openapi.json and noted as observed.
func checkAgainstSpec(t *testing.T, h http.Handler) http.Handler {
	s := loadSpec(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &recordingWriter{ResponseWriter: w}
		h.ServeHTTP(rw, r)
		if rw.status == http.StatusNotFound || rw.status == http.StatusMethodNotAllowed {
			return // not tied to a documented path (see the spec's description)
		}
		doc, ok := s.documented(r.Method, r.URL.Path, rw.status)
		if !ok {
			t.Errorf("openapi: %s %s answered %d, which docs/openapi.json does not describe", r.Method, r.URL.Path, rw.status)
			return
		}
		observedMu.Lock()
		observed[fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, rw.status)] = true
		observedMu.Unlock()
		ct := rw.Header().Get("Content-Type")
		media, _, _ := strings.Cut(ct, ";")
		c, ok := doc.Content[media]
		if !ok {
			t.Errorf("openapi: %s %s %d has Content-Type %q, documented %v", r.Method, r.URL.Path, rw.status, ct, doc.Content)
			return
		}
		if media != "application/json" {
			return
		}
		body := rw.body.Bytes()
		if rw.Header().Get("Content-Encoding") == "gzip" {
			z, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Errorf("openapi: gzip body: %v", err)
				return
			}
			body, _ = io.ReadAll(z)
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("openapi: %s %s %d: body is not JSON: %v", r.Method, r.URL.Path, rw.status, err)
			return
		}
		for _, p := range s.validate(c.Schema, v, "body") {
			t.Errorf("openapi: %s %s %d: %s", r.Method, r.URL.Path, rw.status, p)
		}
	})
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	s := loadSpec(t)
	h := newTestHub(t, nil)
	served := map[string]bool{}
	for _, rt := range h.srv.Routes() {
		key := strings.ToLower(rt.Method) + " " + rt.Path
		served[key] = true
		if _, ok := s.Paths[rt.Path][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("%s %s is served but not in docs/openapi.json", rt.Method, rt.Path)
		}
	}
	for path, ops := range s.Paths {
		for m := range ops {
			if !served[m+" "+path] {
				t.Errorf("docs/openapi.json describes %s %s, which the hub does not serve", m, path)
			}
		}
	}
}

// TestMain runs the tests, then, when every test ran, checks that each
// documented status was observed by some handler test.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && !testing.Short() {
		var missing []string
		s := loadSpecNoT()
		for path, ops := range s.Paths {
			for method, op := range ops {
				for status := range op.Responses {
					key := fmt.Sprintf("%s %s %s", strings.ToUpper(method), path, status)
					if !observed[key] {
						missing = append(missing, key)
					}
				}
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			fmt.Fprintf(os.Stderr, "openapi: documented answers no handler test observed:\n  %s\n", strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

func loadSpecNoT() *spec {
	b, err := os.ReadFile("../docs/openapi.json")
	if err != nil {
		panic(err)
	}
	s := new(spec)
	if err := json.Unmarshal(b, s); err != nil {
		panic(err)
	}
	return s
}
