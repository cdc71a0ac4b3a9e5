package taap

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"github.com/authgate/authgate/internal/rsapub"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

const cryptoSHA256 = crypto.SHA256

func b64enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// replayNamespace scopes PoP jtis in the shared replay cache.
const replayNamespace = "taap.pop"

// Algorithms a PoP token may be signed with: RSA only, since client keys
// are RSA. none and HMAC are never accepted (an HMAC "verified" with a
// public key is the classic JWT key-confusion hole).
var rsaAlgs = map[string]struct {
	hash crypto.Hash
	pss  bool
}{
	"RS256": {crypto.SHA256, false}, "RS384": {crypto.SHA384, false}, "RS512": {crypto.SHA512, false},
	"PS256": {crypto.SHA256, true}, "PS384": {crypto.SHA384, true}, "PS512": {crypto.SHA512, true},
}

// VerifierConfig is the verification policy.
type VerifierConfig struct {
	Algorithms  []string      // allow-list (default RS256)
	Skew        time.Duration // tolerated clock difference for iat and exp
	MaxLifetime time.Duration // largest exp - iat accepted
	// Debug adds the server's canonical string to edts mismatches.
	Debug bool
}

type replayCache interface {
	Remember(ctx context.Context, namespace, key string, expires time.Time) error
}

var _ replayCache = (*core.Replay)(nil)

// Verifier checks PoP tokens. It is safe for concurrent use and holds no
// per-request state; routes pass the request, the client's keys and the
// parts they require.
type Verifier struct {
	cfg    VerifierConfig
	algs   map[string]bool
	replay replayCache
	clock  core.Clock
	// rsaKeys holds the clients' keys with their moduli precomputed
	// (a third of an RS256 verification otherwise).
	rsaKeys *rsapub.Cache
}

// NewVerifier builds a verifier; cfg must have passed Config.Validate.
func NewVerifier(cfg VerifierConfig, replay replayCache, clock core.Clock) *Verifier {
	v := &Verifier{cfg: cfg, algs: map[string]bool{}, replay: replay, clock: clock, rsaKeys: rsapub.NewCache(0)}
	for _, a := range cfg.Algorithms {
		if _, ok := rsaAlgs[a]; ok {
			v.algs[a] = true
		}
	}
	return v
}

// Input is one PoP-protected request to verify.
type Input struct {
	Token    string // X-Authorization value
	Request  Signed
	Keys     []*rsa.PublicKey // the client's registered keys
	Required []string         // parts ehts must name (pseudo-names exact, headers case-insensitive)
	// Scope separates jti namespaces (the client id): a client can only
	// spend its own jtis.
	Scope string
}

// Required returns the parts a route requires for this request: its
// configured parts, plus Authorization when the request carries one and
// body when the body is not empty (an unsigned body could be swapped).
func Required(route []string, s Signed) []string {
	out := append([]string(nil), route...)
	if s.Header.Get("Authorization") != "" && !containsPart(out, "Authorization") {
		out = append(out, "Authorization")
	}
	if len(s.Body) > 0 && !containsPart(out, PartBody) {
		out = append(out, PartBody)
	}
	return out
}

func containsPart(parts []string, name string) bool {
	for _, p := range parts {
		if p == name || (!isPseudo(name) && !isPseudo(p) && strings.EqualFold(p, name)) {
			return true
		}
	}
	return false
}

// Verify runs every check on in and spends the token's jti. It returns
// the token, or a *CheckError naming the first check that failed (a
// core error of KindUnavailable/Internal if the replay cache fails).
func (v *Verifier) Verify(ctx context.Context, in Input) (*Token, error) {
	t, err := v.check(in)
	if err != nil {
		return t, err
	}
	// Keep the jti until the token could no longer pass the time checks.
	until := time.Unix(t.Expires, 0).Add(v.cfg.Skew + time.Second)
	if err := v.replay.Remember(ctx, replayNamespace, in.Scope+"\x00"+t.JTI, until); err != nil {
		if core.KindOf(err) == core.KindReplayed {
			return t, failKind(CheckReplay, core.KindReplayed, "jti "+quoteShort(t.JTI)+" was already used: a PoP token is good for one request")
		}
		return t, err
	}
	return t, nil
}

// Explain runs the same checks as Verify without spending the jti, and
// reports each check in order; it stops where later checks cannot run.
func (v *Verifier) Explain(in Input) []Result {
	var out []Result
	v.walk(in, func(c Check, err *CheckError) bool {
		r := Result{Check: c, OK: err == nil}
		if err != nil {
			r.Reason, r.Canonical = err.Reason, err.Canonical
		}
		out = append(out, r)
		return true
	})
	return out
}

// Result is one check's outcome in an explanation.
type Result struct {
	Check     Check  `json:"check"`
	OK        bool   `json:"ok"`
	Reason    string `json:"reason,omitempty"`
	Canonical string `json:"server_canonical,omitempty"`
}

func (v *Verifier) check(in Input) (*Token, error) {
	var first *CheckError
	t := v.walk(in, func(_ Check, err *CheckError) bool {
		if err != nil {
			first = err
			return false
		}
		return true
	})
	if first != nil {
		return t, first
	}
	return t, nil
}

// walk runs the checks in order, reporting each to visit (err nil on
// success); visit returns false to stop. Checks that depend on an earlier
// one (the signature needs a parsed token) stop the walk when it failed.
func (v *Verifier) walk(in Input, visit func(Check, *CheckError) bool) *Token {
	t, err := ParseToken(in.Token)
	if err != nil {
		ce := err.(*CheckError)
		visit(ce.Check, ce)
		return nil
	}
	if !visit(CheckFormat, nil) {
		return t
	}
	if !v.algs[t.Alg] {
		visit(CheckAlg, fail(CheckAlg, fmt.Sprintf("alg %s is not accepted (allowed: %s)", quoteShort(t.Alg), strings.Join(v.cfg.Algorithms, ", "))))
		return t
	}
	if !visit(CheckAlg, nil) {
		return t
	}
	if len(in.Keys) == 0 {
		visit(CheckClient, fail(CheckClient, "the client has no registered public key"))
		return t
	}
	if !visit(CheckClient, nil) {
		return t
	}
	if !visit(CheckSignature, v.signature(t, in.Keys)) {
		return t
	}
	if !visit(CheckVersion, nil) {
		return t
	}
	now := v.clock.Now()
	skew := int64(v.cfg.Skew / time.Second)
	var e *CheckError
	if t.IssuedAt > now.Unix()+skew {
		e = fail(CheckIssuedAt, fmt.Sprintf("PoP token not yet valid: iat is %d s in the future (allowed clock skew %d s)", t.IssuedAt-now.Unix(), skew))
	}
	if !visit(CheckIssuedAt, e) {
		return t
	}
	e = nil
	if t.Expires+skew <= now.Unix() {
		e = failKind(CheckExpiry, core.KindExpired, fmt.Sprintf("PoP token expired %d s ago (allowed clock skew %d s)", now.Unix()-t.Expires, skew))
	}
	if !visit(CheckExpiry, e) {
		return t
	}
	e = nil
	if life := t.Expires - t.IssuedAt; life <= 0 || life > int64(v.cfg.MaxLifetime/time.Second) {
		e = fail(CheckLifetime, fmt.Sprintf("PoP token lifetime exp-iat is %d s; it must be between 1 and %d s", life, int64(v.cfg.MaxLifetime/time.Second)))
	}
	if !visit(CheckLifetime, e) {
		return t
	}
	if !visit(CheckEHTS, nil) {
		return t
	}
	e = nil
	for _, r := range in.Required {
		if !containsPart(t.Parts, r) {
			e = fail(CheckRequired, fmt.Sprintf("ehts must include %q (ehts is %s)", r, quoteShort(t.EHTS)))
			break
		}
	}
	if !visit(CheckRequired, e) {
		return t
	}
	visit(CheckEDTS, v.edts(t, in.Request))
	return t
}

func (v *Verifier) signature(t *Token, keys []*rsa.PublicKey) *CheckError {
	a := rsaAlgs[t.Alg]
	var digest []byte
	switch a.hash {
	case crypto.SHA256:
		d := sha256.Sum256([]byte(t.SigningInput))
		digest = d[:]
	case crypto.SHA384:
		d := sha512.Sum384([]byte(t.SigningInput))
		digest = d[:]
	default:
		d := sha512.Sum512([]byte(t.SigningInput))
		digest = d[:]
	}
	for _, k := range keys {
		t.Key = k
		var err error
		if a.pss {
			err = rsa.VerifyPSS(k, a.hash, digest, t.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = v.rsaKeys.VerifyPKCS1v15(k, a.hash, digest, t.Signature)
		}
		if err == nil {
			return nil
		}
	}
	t.Key = nil
	return fail(CheckSignature, "PoP token signature does not verify with the client's registered public key")
}

func (v *Verifier) edts(t *Token, s Signed) *CheckError {
	want, err := s.EDTS(t.Parts)
	if err != nil {
		return err.(*CheckError)
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(t.EDTS)) == 1 {
		return nil
	}
	e := fail(CheckEDTS, "edts does not match the request: the values of "+t.EHTS+" as received hash differently than signed (compare each value byte for byte, method and case included)")
	if v.cfg.Debug {
		e.Canonical = s.Canonical(t.Parts)
	}
	return e
}

// quoteShort quotes an untrusted value for a message, cut to 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", s)
}
