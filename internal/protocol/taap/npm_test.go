package taap_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/protocol/taap"
)

// npmBuild builds one token per request with T-Mobile's npm builder
// (tmo-poptoken-builder 1.0.0, installed by scripts/deps.sh).
func npmBuild(t *testing.T, keyPEM []byte, requests ...[][2]string) []string {
	t.Helper()
	return npmBuildV(t, keyPEM, nil, requests...)
}

// npmBuildV is npmBuild with claim v set to v (nil: as the builder writes
// it) and the token signed again by jsrsasign, the builder's signer.
func npmBuildV(t *testing.T, keyPEM []byte, v any, requests ...[][2]string) []string {
	t.Helper()
	dir, _ := filepath.Abs("testdata/npm")
	if _, err := os.Stat(filepath.Join(dir, "node_modules/tmo-poptoken-builder/poptoken-builder-node.js")); err != nil {
		if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") != "" {
			t.Fatal("tmo-poptoken-builder is not installed (scripts/deps.sh install_taap_node_deps) but this is a full run")
		}
		t.Skip("tmo-poptoken-builder not installed: npm ci --prefix internal/protocol/taap/testdata/npm")
	}
	req := map[string]any{"key": string(keyPEM), "requests": requests}
	if v != nil {
		req["v"] = v
	}
	in, _ := json.Marshal(req)
	cmd := exec.Command("node", "build.js")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node build.js: %v %s", err, out)
	}
	var toks []string
	if err := json.Unmarshal(out, &toks); err != nil || len(toks) != len(requests) {
		t.Fatalf("builder output %q: %v", out, err)
	}
	return toks
}

// npmNow is npmBuild for a fixture on a manual clock: the clock is set to
// the real time first, which the builder reads (a slow run must not make
// its tokens look issued in the future).
func npmNow(t *testing.T, f *fixture, keyPEM []byte, requests ...[][2]string) []string {
	t.Helper()
	f.env.Clock.Set(time.Now())
	return npmBuild(t, keyPEM, requests...)
}

func pkcs8PEM(t *testing.T, k *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func pkcs1PEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// tamper edits a compact JWS: which part (0 header, 1 claims, 2 signature)
// through edit on the decoded bytes, keeping the other parts.
func tamper(tok string, part int, edit func([]byte) []byte) string {
	p := strings.Split(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(p[part])
	p[part] = base64.RawURLEncoding.EncodeToString(edit(b))
	return strings.Join(p, ".")
}

func flipLastByte(b []byte) []byte { b[len(b)-1] ^= 1; return b }

// setClaim rewrites one claim of a decoded claims object.
func setClaim(name string, v any) func([]byte) []byte {
	return func(b []byte) []byte {
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		m[name] = v
		out, _ := json.Marshal(m)
		return out
	}
}

// TestNPMBuilderInterop: tokens made by T-Mobile's own JavaScript builder
// are accepted by the token endpoint and the resource, and every kind of
// tampering with them is rejected by the check that should catch it.
func TestNPMBuilderInterop(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	// The npm builder reads the real clock: the server's follows it after
	// every build (node may take seconds to start on a loaded machine, which
	// would put the tokens' iat beyond the allowed skew of a clock set once).
	f.env.Clock.Set(time.Now())
	build := func(keyPEM []byte, parts ...[][2]string) []string {
		toks := npmBuild(t, keyPEM, parts...)
		f.env.Clock.Set(time.Now())
		return toks
	}
	keyPEM := pkcs8PEM(t, f.key)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(f.client.ClientID+":"+f.client.ClientSecret))
	tokenParts := [][2]string{{"Authorization", basic}, {"uri", taap.RouteToken}, {"http-method", "POST"}}

	tokenReq := func(pop string) *http.Request {
		req, _ := http.NewRequest("POST", f.env.URL+taap.RouteToken, nil)
		req.Header.Set("Authorization", basic)
		req.Header.Set("X-Authorization", pop)
		return req
	}
	toks := build(keyPEM, tokenParts, tokenParts, tokenParts, tokenParts, tokenParts,
		[][2]string{{"Authorization", "Basic c29tZW9uZTplbHNl"}, {"uri", taap.RouteToken}, {"http-method", "POST"}},
		[][2]string{{"Authorization", basic}, {"http-method", "POST"}})
	ok := send(t, tokenReq(toks[0]))
	if ok.status != 200 {
		t.Fatalf("token endpoint refused the npm builder's token: %d %v", ok.status, ok.body)
	}
	access := ok.body["access_token"].(string)
	pkcs1 := build(pkcs1PEM(f.key), tokenParts)[0]
	if r := send(t, tokenReq(pkcs1)); r.status != 200 {
		t.Fatalf("token signed from a PKCS#1 key: %d %v", r.status, r.body)
	}

	iccidURI := "/iot-connectivity/v1/devices/" + testICCID
	resParts := [][2]string{{"Content-Type", "application/json"}, {"Authorization", "Bearer " + access}, {"uri", iccidURI}, {"http-method", "GET"}, {"body", ""}}
	rtoks := build(keyPEM, resParts, resParts, resParts, resParts, resParts, resParts, resParts,
		[][2]string{{"Content-Type", "application/json"}, {"Authorization", "Bearer " + access}, {"uri", iccidURI}, {"http-method", "GET"}})
	resReq := func(pop, uri string, edit func(*http.Request)) *http.Request {
		req, _ := http.NewRequest("GET", f.env.URL+uri, nil)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+access)
		req.Header.Set("X-Authorization", pop)
		if edit != nil {
			edit(req)
		}
		return req
	}
	if r := send(t, resReq(rtoks[0], iccidURI, nil)); r.status != 200 || r.body["iccid"] != testICCID {
		t.Fatalf("resource refused the npm builder's token: %d %v", r.status, r.body)
	}

	other := testKeys()[2]
	foreign := build(pkcs8PEM(t, other), resParts)[0]
	tests := []struct {
		name  string
		req   *http.Request
		check taap.Check
	}{
		// Token endpoint PoP (Authorization;uri;http-method).
		{"token: replayed", tokenReq(toks[0]), taap.CheckReplay},
		{"token: claims edited", tokenReq(tamper(toks[1], 1, setClaim("jti", "forged"))), taap.CheckSignature},
		{"token: signature flipped", tokenReq(tamper(toks[2], 2, flipLastByte)), taap.CheckSignature},
		{"token: alg HS256", tokenReq(tamper(toks[3], 0, func([]byte) []byte { return []byte(`{"alg":"HS256","typ":"JWT"}`) })), taap.CheckAlg},
		{"token: alg none", tokenReq(tamper(toks[3], 0, func([]byte) []byte { return []byte(`{"alg":"none"}`) })), taap.CheckAlg},
		{"token: other uri", func() *http.Request {
			r := tokenReq(toks[4])
			r.URL.RawQuery = "x=1"
			return r
		}(), taap.CheckEDTS},
		{"token: signed other credentials", tokenReq(toks[5]), taap.CheckEDTS},
		{"token: uri not signed", tokenReq(toks[6]), taap.CheckRequired},
		// Resource PoP (Content-Type;Authorization;uri;http-method;body).
		{"resource: replayed", resReq(rtoks[0], iccidURI, nil), taap.CheckReplay},
		{"resource: claims edited", resReq(tamper(rtoks[1], 1, setClaim("exp", time.Now().Unix()+100)), iccidURI, nil), taap.CheckSignature},
		{"resource: signature flipped", resReq(tamper(rtoks[2], 2, flipLastByte), iccidURI, nil), taap.CheckSignature},
		{"resource: other ICCID", resReq(rtoks[3], "/iot-connectivity/v1/devices/8901260000000000000"+"0", nil), taap.CheckEDTS},
		{"resource: Content-Type changed", resReq(rtoks[4], iccidURI, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }), taap.CheckEDTS},
		{"resource: signed header missing", resReq(rtoks[5], iccidURI, func(r *http.Request) { r.Header.Del("Content-Type") }), taap.CheckEDTS},
		{"resource: v is not 1", resReq(tamper(rtoks[6], 1, setClaim("v", "2")), iccidURI, nil), taap.CheckVersion},
		{"resource: body not signed", resReq(rtoks[7], iccidURI, nil), taap.CheckRequired},
		{"resource: key of another client", resReq(foreign, iccidURI, nil), taap.CheckSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, tc.req)
			wantPoPFailure(t, r, tc.check)
			if reason := f.lastFailure(t); !strings.HasPrefix(reason, "pop "+string(tc.check)+": ") {
				t.Fatalf("audit reason %q does not name check %s", reason, tc.check)
			}
		})
	}
}
