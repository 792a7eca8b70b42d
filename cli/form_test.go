package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccmcollect/ccmcollect/forms"
)

func runFormCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	env, out, errb := testEnv()
	env.Stdin = strings.NewReader(stdin)
	env.DataDir = t.TempDir()
	code = Run(context.Background(), env, args)
	return code, out.String(), errb.String()
}

func writeFormFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFormList(t *testing.T) {
	code, out, errs := runFormCmd(t, "", "form", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, id := range forms.BuiltinIDs {
		if !strings.Contains(out, id) {
			t.Errorf("form list lacks %s:\n%s", id, out)
		}
	}
	code, out, errs = runFormCmd(t, "", "form", "list", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct {
		Forms []struct {
			ID       string `json:"id"`
			Version  int    `json:"version"`
			Versions []int  `json:"versions"`
			Fields   int    `json:"fields"`
		} `json:"forms"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("form list --json: %v\n%s", err, out)
	}
	if len(got.Forms) != 6 || got.Forms[0].ID != "casualty" || got.Forms[0].Version != 1 || got.Forms[0].Fields != 19 || len(got.Forms[0].Versions) != 1 {
		t.Errorf("form list --json = %+v", got.Forms)
	}
	if code, _, errs := runFormCmd(t, "", "form", "list", "extra"); code != 2 || !strings.Contains(errs, "usage") {
		t.Errorf("form list extra: exit %d, %s", code, errs)
	}
}

func TestFormShow(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"text", []string{"form", "show", "casualty"}, 0, []string{"casualty: Casualty (version 1", "age_group", "age_group(age)", "0–110", "only when outcome = 'injured'", "choices: killed, injured, unknown"}, ""},
		{"flags after id", []string{"form", "show", "risk_education", "--version", "1"}, 0, []string{"age bands: 0-4, 5-12, 13-17, 18-59, 60+, unknown"}, ""},
		{"flags before id", []string{"form", "show", "--version=1", "needs_assessment"}, 0, []string{"quantity * unit_cost", "default USD"}, ""},
		{"unknown form", []string{"form", "show", "nope"}, 1, nil, "unknown form"},
		{"unknown version", []string{"form", "show", "casualty", "--version", "9"}, 1, nil, "unknown form"},
		{"no id", []string{"form", "show"}, 2, nil, "usage"},
		{"bad flag", []string{"form", "show", "casualty", "--colour"}, 2, nil, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runFormCmd(t, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.code, errs)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errs, tt.stderr) {
				t.Errorf("stderr %q lacks %q", errs, tt.stderr)
			}
		})
	}
	// show --json prints a definition that parses back to the same form.
	code, out, errs := runFormCmd(t, "", "form", "show", "hazard_area", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	f, err := forms.Parse([]byte(out))
	if err != nil {
		t.Fatalf("form show --json output does not parse: %v", err)
	}
	if f.ID != "hazard_area" || len(f.Constraints) != 2 {
		t.Errorf("parsed %s with %d constraints", f.ID, len(f.Constraints))
	}
}

func TestFormCheck(t *testing.T) {
	good := writeFormFile(t, "good.json", `{"id": "followup", "version": 1, "title": "Follow-up", "programme": "LAO",
		"fields": [{"id": "visited", "type": "boolean", "label": "Visited", "required": true}]}`)
	bad := writeFormFile(t, "bad.json", `{"id": "Bad Id", "version": 0, "title": "X",
		"fields": [{"id": "a", "type": "integer", "label": "A", "min": 5, "max": 1, "relevant": "zz > 1"}]}`)
	notJSON := writeFormFile(t, "broken.json", `{"id": `)
	clash := writeFormFile(t, "clash.json", `{"id": "casualty", "version": 1, "title": "Mine", "fields": [{"id": "a", "type": "text", "label": "A"}]}`)
	_, builtinDef, _ := runFormCmd(t, "", "form", "show", "casualty", "--json")
	same := writeFormFile(t, "same.json", builtinDef)

	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout []string
	}{
		{"good", []string{good}, "", 0, []string{"good.json: ok: form followup version 1, 1 fields"}},
		{"bad lists every problem", []string{bad}, "", 1, []string{`id "Bad Id"`, "version must be 1", "min 5 is greater than max 1", `unknown field "zz"`}},
		{"not json", []string{notJSON}, "", 1, []string{"broken.json: not a valid form definition"}},
		{"missing file", []string{filepath.Join(t.TempDir(), "nope.json")}, "", 1, []string{"nope.json: cannot read"}},
		{"clash with built-in", []string{clash}, "", 1, []string{"casualty version 1 already exists with different content"}},
		{"same as built-in", []string{same}, "", 0, []string{"ok: form casualty version 1"}},
		{"several files", []string{good, bad}, "", 1, []string{"good.json: ok", "bad.json: "}},
		{"stdin", []string{"-"}, `{"id": "x", "version": 3, "title": "X", "fields": [{"id": "a", "type": "text", "label": "A"}]}`, 0, []string{"-: ok: form x version 3"}},
		{"no file", nil, "", 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runFormCmd(t, tt.stdin, append([]string{"form", "check"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %s stderr %s", code, tt.code, out, errs)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
