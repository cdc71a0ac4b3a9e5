package taap_test

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/protocol/taap"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	if string(want) != string(got) {
		t.Fatalf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// edtsVector is one request and the edts of its signed parts.
type edtsVector struct {
	Name    string      `json:"name"`
	EHTS    string      `json:"ehts"`
	Parts   [][2]string `json:"parts"` // name, value in ehts order, as a builder is given them
	Method  string      `json:"method"`
	URI     string      `json:"uri"`
	Headers http.Header `json:"headers"`
	Body    string      `json:"body"`
	EDTS    string      `json:"edts"`
}

func loadVectors(t *testing.T) []edtsVector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", "edts_vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vs []edtsVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestEDTSVectors pins the edts of fixed requests (the wire format of the
// hash: values in ehts order, no separator, SHA-256, base64url without
// padding). TestEDTSVectorsNPM shows T-Mobile's builder computes the same.
func TestEDTSVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			parts, err := taap.ParseEHTS(v.EHTS)
			if err != nil {
				t.Fatal(err)
			}
			s := taap.Signed{Method: v.Method, URI: v.URI, Header: v.Headers, Body: []byte(v.Body)}
			got, err := s.EDTS(parts)
			if err != nil {
				t.Fatal(err)
			}
			var values []string
			for _, p := range v.Parts {
				values = append(values, p[1])
			}
			if got != v.EDTS || edtsOf(values...) != v.EDTS {
				t.Fatalf("edts %s (independent %s), golden %s", got, edtsOf(values...), v.EDTS)
			}
		})
	}
}

func TestEDTSVectorsNPM(t *testing.T) {
	vs := loadVectors(t)
	reqs := make([][][2]string, len(vs))
	for i, v := range vs {
		reqs[i] = v.Parts
	}
	toks := npmBuild(t, pkcs8PEM(t, testKeys()[0]), reqs...)
	for i, v := range vs {
		var c struct{ EHTS, EDTS string }
		if err := json.Unmarshal(mustDecode(t, strings.Split(toks[i], ".")[1]), &c); err != nil {
			t.Fatal(err)
		}
		if c.EDTS != v.EDTS || c.EHTS != strings.ReplaceAll(v.EHTS, " ", "") {
			t.Errorf("%s: npm builder ehts %q edts %s, golden %q %s", v.Name, c.EHTS, c.EDTS, v.EHTS, v.EDTS)
		}
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenAnswers pins the wire form of a PoP rejection (status,
// challenge, JSON body) and of the discovery document.
func TestGoldenAnswers(t *testing.T) {
	cfg := taap.DefaultConfig()
	cfg.Issuer = "https://authgate.example"
	f := newFixture(t, fixtureOpts{cfg: &cfg})
	tr := f.accessToken(t)
	dump := func(resp *http.Response) []byte {
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out strings.Builder
		out.WriteString(resp.Proto + " " + resp.Status + "\n")
		for _, h := range []string{"Content-Type", "Cache-Control", "WWW-Authenticate"} {
			if v := resp.Header.Get(h); v != "" {
				out.WriteString(h + ": " + v + "\n")
			}
		}
		out.WriteString("\n")
		out.Write(b)
		return []byte(out.String())
	}

	req, _ := http.NewRequest("GET", f.env.URL+"/iot-connectivity/v1/devices/"+testICCID, nil)
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "pop_missing.http", dump(resp))

	resp, err = http.Get(f.env.URL + taap.RouteOIDC)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "openid-configuration.http", dump(resp))
}
