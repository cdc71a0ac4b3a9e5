package oauth2_test

import (
	"net/url"
	"strconv"
	"testing"

	"github.com/authgate/authgate/internal/core"
)

// The attacks on the failed-authentication limits (docs/limiter.md), end
// to end through the token endpoint, with client addresses given by
// X-Forwarded-For from a trusted proxy. Default limits: 10 per key and
// address, 100 per address, 20 per key, per 5 minutes.

// from sends a password grant for key/secret from the client address addr.
func (e *env) from(addr, key, secret string) resp {
	e.t.Helper()
	return e.do("POST", "/oauth/token", with(formHeader(), "X-Forwarded-For", addr),
		url.Values{"grant_type": {"password"}, "username": {key}, "password": {secret}}.Encode())
}

// TestAttack_KnownKeyIDCannotLockOutOwner: an attacker who knows a key id
// (not a secret) sends wrong secrets for it from five addresses, past
// every limit. The owner, from an address that has not failed, still
// gets tokens with the right secret (password grant and client
// credentials). Before, 10 wrong secrets from anywhere locked the key.
func TestAttack_KnownKeyIDCannotLockOutOwner(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			e := start(t, backend(t), true, nil)
			adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
			key, secret := e.createKey(adminTok, "Victim Org")
			limited := 0
			for a := range 5 {
				for i := range 15 {
					r := e.from("203.0.113."+strconv.Itoa(a+1), key, "guess-"+strconv.Itoa(i))
					switch r.Status {
					case 400:
						checkError(t, r, 400, "invalid_grant", "invalid key or secret", "")
					case 429:
						checkError(t, r, 429, "temporarily_unavailable", "too many failed authentications", "")
						limited++
					default:
						t.Fatalf("guess: %d %s", r.Status, r.Body)
					}
				}
			}
			if limited == 0 {
				t.Fatal("the attacker was never limited")
			}
			if r := e.from("198.51.100.7", key, secret); r.Status != 200 {
				t.Fatalf("owner from a clean address: %d %s", r.Status, r.Body)
			}
			r := e.do("POST", "/oauth/token", with(formHeader(), "X-Forwarded-For", "198.51.100.8", "Authorization", basic(key, secret)), "grant_type=client_credentials")
			if r.Status != 200 {
				t.Fatalf("owner's client credentials from a clean address: %d %s", r.Status, r.Body)
			}
			// The attacker's own addresses stay refused, right secret or not.
			checkError(t, e.from("203.0.113.1", key, secret), 429, "temporarily_unavailable", "", "")
		})
	}
}

// TestAttack_RandomKeysFromNATDoNotLockOutNeighbours: 150 failures with
// random key names from one address (a NAT, or every user behind a proxy
// when trusted_proxies is unset) do not lock out the other keys behind
// it; the address is only held to one attempt per key. Before, 100 such
// failures refused every key from that address.
func TestAttack_RandomKeysFromNATDoNotLockOutNeighbours(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			e := start(t, backend(t), true, nil)
			adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
			key, secret := e.createKey(adminTok, "Neighbour Org")
			const nat = "192.0.2.10"
			for i := range 150 {
				checkError(t, e.from(nat, "random-"+strconv.Itoa(i), "x"), 400, "invalid_grant", "", "")
			}
			if r := e.from(nat, key, secret); r.Status != 200 {
				t.Fatalf("neighbour behind the NAT: %d %s", r.Status, r.Body)
			}
			// The hot address gets one attempt per key, not ten.
			checkError(t, e.from(nat, "random-0", "y"), 429, "temporarily_unavailable", "too many failed authentications", "")
			checkError(t, e.from(nat, "random-new", "x"), 400, "invalid_grant", "", "")
			checkError(t, e.from(nat, "random-new", "y"), 429, "temporarily_unavailable", "", "")
			// The failures were counted against the NAT only.
			if r := e.from("198.51.100.9", "random-0", "z"); r.Status != 400 {
				t.Fatalf("same key from another address: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestAttack_GuessesPerKeyBoundedAcrossAddresses: 40 addresses guess one
// key's secret 12 times each. The wrong guesses answered as such stay
// bounded by the per-key limit plus one per address that had not failed
// on the key (here exactly 10 + 10 + 38 = 58), and the owner from a clean
// address still gets in.
func TestAttack_GuessesPerKeyBoundedAcrossAddresses(t *testing.T) {
	for name, backend := range backends() {
		t.Run(name, func(t *testing.T) {
			e := start(t, backend(t), true, nil)
			adminTok, _ := e.passwordGrant(e.Admin.Key, e.Admin.Secret)
			key, secret := e.createKey(adminTok, "Victim Org")
			limits := core.DefaultGuardLimits()
			const addrs, each = 40, 12
			answered := 0
			for a := range addrs {
				for i := range each {
					switch r := e.from("2001:db8:"+strconv.Itoa(a)+"::1", key, "guess-"+strconv.Itoa(i)); r.Status {
					case 400:
						answered++
					case 429:
					default:
						t.Fatalf("guess: %d %s", r.Status, r.Body)
					}
				}
			}
			// The first two addresses reach the per-key limit of 20 with 10
			// each; from then on every other address gets one guess.
			if want := 2*limits.Pair + (addrs - 2); answered != want || answered > limits.Credential+addrs {
				t.Fatalf("%d guesses from %d addresses answered: %d, want %d (at most %d)", addrs*each, addrs, answered, want, limits.Credential+addrs)
			}
			// Another address inside an attacker's /64 is not clean.
			checkError(t, e.from("2001:db8:3::2", key, secret), 429, "temporarily_unavailable", "", "")
			if r := e.from("198.51.100.20", key, secret); r.Status != 200 {
				t.Fatalf("owner from a clean address: %d %s", r.Status, r.Body)
			}
		})
	}
}
