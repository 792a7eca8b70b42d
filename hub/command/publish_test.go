package command_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccmcollect/ccmcollect/record"
	"github.com/ccmcollect/ccmcollect/sync/protocol"
)

const schoolVisit = `{
  "id": "school_visit", "version": 1, "title": "School visit", "programme": "LAO",
  "fields": [
    {"id": "visit_date", "type": "date", "label": "Date of the visit", "required": true},
    {"id": "pupils", "type": "integer", "label": "Pupils reached", "min": 0}
  ]
}`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFormPublish(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, "visit.json", schoolVisit)
	if code, out, errOut := run(t, "form", "publish", f, "--data", dir); code != 0 || !strings.Contains(out, "school_visit version 1 published for LAO") {
		t.Fatalf("publish: exit %d %q %q", code, out, errOut)
	}
	if code, _, errOut := run(t, "form", "publish", f, "--data", dir); code != 0 {
		t.Errorf("publishing the same again: exit %d %q", code, errOut)
	}
	bad := []struct{ name, def, want string }{
		{"changed content", strings.Replace(schoolVisit, "School visit", "Changed", 1), "already published"},
		{"no programme", strings.Replace(schoolVisit, `"programme": "LAO",`, "", 1), "programme"},
		{"not JSON", "{", "visit.json"},
		{"clashes with a built-in", strings.Replace(schoolVisit, `"school_visit"`, `"casualty"`, 1), "casualty"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, "form", "publish", writeFile(t, "visit.json", tc.def), "--data", dir)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, %q; want exit 1 mentioning %q", code, errOut, tc.want)
			}
		})
	}
	if code, _, _ := run(t, "form", "publish", "--data", dir); code != 2 {
		t.Errorf("publish without a file: exit %d, want 2", code)
	}

	_, out, _ := run(t, "device", "add", "--programme", "LAO", "--name", "A", "--data", dir)
	lao := lastLine(out)
	_, out, _ = run(t, "device", "add", "--programme", "KHM", "--name", "K", "--data", dir)
	khm := lastLine(out)
	url, stop := serveInProcess(t, "--data", dir)
	defer stop()

	hasVisit := func(token string) bool {
		req, _ := http.NewRequest("GET", url+protocol.PathForms, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var fl struct {
			Forms []struct {
				ID string `json:"id"`
			} `json:"forms"`
		}
		json.NewDecoder(resp.Body).Decode(&fl)
		for _, f := range fl.Forms {
			if f.ID == "school_visit" {
				return true
			}
		}
		return false
	}
	if !hasVisit(lao) || hasVisit(khm) {
		t.Errorf("school_visit visible to LAO %v (want true), to KHM %v (want false)", hasVisit(lao), hasVisit(khm))
	}
	push := func(token, programme string) string {
		r, err := record.NewRevision(record.NewID(), "school_visit", 1,
			map[string]any{"visit_date": "2026-11-20", "pupils": 31.0}, record.Meta{Programme: programme})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(protocol.PushRequest{Revisions: []*record.Revision{r}})
		resp, err := post(url, token, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var pr protocol.PushResponse
		json.NewDecoder(resp.Body).Decode(&pr)
		if len(pr.Results) != 1 {
			t.Fatalf("push: %d", resp.StatusCode)
		}
		return pr.Results[0].Status
	}
	if st := push(lao, "LAO"); st != "applied" {
		t.Errorf("LAO push of its custom form: %s", st)
	}
	if st := push(khm, "KHM"); st != "rejected" {
		t.Errorf("KHM push of LAO's custom form: %s, want rejected", st)
	}
}

// TestServeTLS serves HTTPS with a self-signed certificate.
func TestServeTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ccmhub test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile := writeFile(t, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile := writeFile(t, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))

	url, stop := serveInProcess(t, "--data", t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile)
	defer stop()
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(strings.Replace(url, "http://", "https://", 1) + protocol.PathHealth)
	if err != nil {
		t.Fatalf("https health: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("https health: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if resp, err := http.Get(url + protocol.PathHealth); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}
}
