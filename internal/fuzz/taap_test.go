package fuzz

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/protocol/taap"
)

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// FuzzTAAPToken feeds arbitrary X-Authorization values to the PoP token
// parser: it must never panic, and whatever it accepts must be internally
// consistent (three parts, known claims, a valid ehts).
func FuzzTAAPToken(f *testing.F) {
	hdr := enc(`{"alg":"RS256","typ":"JWT"}`)
	seeds := []string{
		"", ".", "..", "a.b.c", hdr + "." + enc(`{}`) + ".c2ln",
		hdr + "." + enc(`{"iat":1,"exp":121,"ehts":"uri;http-method;body","edts":"x","jti":"j","v":"1"}`) + ".c2ln",
		hdr + "." + enc(`{"iat":1.5,"exp":1e3,"ehts":" uri ; body ","edts":"x","jti":"j","v":1}`) + ".c2ln",
		hdr + "." + enc(`{"iat":"1","exp":null,"ehts":"","edts":"","jti":"","v":"2"}`) + ".c2ln",
		enc(`{"alg":"none"}`) + "." + enc(`{"v":"1"}`) + ".",
		enc(`{"alg":"RS256","crit":["b64"]}`) + "." + enc(`{}`) + ".c2ln",
		hdr + "=." + enc(`{}`) + ".c2ln",
		strings.Repeat("A", 9000),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := taap.ParseToken(s)
		if err != nil {
			if _, ok := err.(*taap.CheckError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if strings.Count(s, ".") != 2 || tok.Version != "1" || tok.JTI == "" || tok.EDTS == "" || len(tok.Parts) == 0 || len(tok.Signature) == 0 {
			t.Fatalf("accepted an inconsistent token: %+v", tok)
		}
		if !strings.HasPrefix(s, tok.SigningInput+".") {
			t.Fatal("signing input is not the token's first two parts")
		}
	})
}

// FuzzTAAPEHTS feeds arbitrary ehts claims to the parser and the edts
// computation over a fixed request.
func FuzzTAAPEHTS(f *testing.F) {
	for _, s := range []string{"uri;http-method;body", "Content-Type;Authorization;uri;http-method;body", "authorization; content_type; uri",
		";", "uri;;body", "uri;URI", "a b", "X-Custom", strings.Repeat("h;", 40)} {
		f.Add(s)
	}
	req := taap.Signed{Method: "GET", URI: "/x?y=1", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte("{}")}
	f.Fuzz(func(t *testing.T, s string) {
		parts, err := taap.ParseEHTS(s)
		if err != nil {
			return
		}
		if len(parts) == 0 || len(parts) > taap.MaxParts {
			t.Fatalf("parts %v", parts)
		}
		for _, p := range parts {
			if p == "" || strings.ContainsAny(p, "; \t") {
				t.Fatalf("bad part %q", p)
			}
		}
		_, _ = req.EDTS(parts)
		_ = req.Canonical(parts)
	})
}

// FuzzTAAPSignsBody feeds arbitrary X-Authorization values to the cheap
// ehts read the taap-pop scheme decides body buffering with: it must
// never panic, and for every token the full parser accepts it must agree
// with the parsed ehts on whether body is signed.
func FuzzTAAPSignsBody(f *testing.F) {
	hdr := enc(`{"alg":"RS256","typ":"JWT"}`)
	for _, s := range []string{"", "..", "a.b.c", strings.Repeat("A", 9000),
		hdr + "." + enc(`{"iat":1,"exp":121,"ehts":"uri;http-method;body","edts":"x","jti":"j","v":"1"}`) + ".c2ln",
		hdr + "." + enc(`{"iat":1,"exp":121,"ehts":"uri;http-method","edts":"x","jti":"j","v":"1"}`) + ".c2ln",
		hdr + "." + enc(`{"iat":1,"exp":121,"ehts":" uri ; body ","edts":"x","jti":"j","v":1}`) + ".c2ln",
		hdr + "." + enc(`{"iat":1,"exp":121,"ehts":"uri;Body","edts":"x","jti":"j","v":1}`) + ".c2ln",
		hdr + "." + enc(`{"ehts":"body","ehts":"uri"}`) + ".c2ln",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := taap.SignsBody(s)
		tok, err := taap.ParseToken(s)
		if err != nil {
			return
		}
		want := false
		for _, p := range tok.Parts {
			want = want || p == taap.PartBody
		}
		if got != want {
			t.Fatalf("SignsBody = %v, the parsed ehts %q says %v", got, tok.EHTS, want)
		}
	})
}
