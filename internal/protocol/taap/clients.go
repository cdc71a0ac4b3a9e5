package taap

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// ClientSpec describes a TAAP client to register.
type ClientSpec struct {
	OrgID      string   // "" creates an organisation named after the client
	Name       string   // unique among the organisation's applications
	PublicKeys [][]byte // at least one RSA public key: PEM (SPKI or PKCS#1) or JWK
	Scope      string   // scope granted to the client's access tokens
}

// ClientInfo is a registered client. ClientSecret is in clear only in the
// answer to CreateClient (it is stored as a keyed hash) and is never shown again.
type ClientInfo struct {
	OrgID        string   `json:"org_id"`
	PrincipalID  string   `json:"principal_id"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Thumbprints  []string `json:"key_thumbprints"`
	Scope        string   `json:"scope,omitempty"`
}

// clientMeta is kept in the client secret credential's Meta.
type clientMeta struct {
	Scope string `json:"scope,omitempty"`
}

// CreateClient registers a TAAP client: an application principal with a
// client secret (Basic authentication at the token endpoint) and RSA
// public keys (PoP signatures). The bench harness and the CLI use it too.
func CreateClient(ctx context.Context, svc core.Services, spec ClientSpec) (ClientInfo, error) {
	if len(spec.PublicKeys) == 0 {
		return ClientInfo{}, core.E(core.KindInvalidInput, "a TAAP client needs at least one public key")
	}
	if len(spec.PublicKeys) > maxClientKeys {
		return ClientInfo{}, core.E(core.KindInvalidInput, "a TAAP client has at most "+strconv.Itoa(maxClientKeys)+" active keys")
	}
	keys := make([]*rsa.PublicKey, len(spec.PublicKeys))
	for i, b := range spec.PublicKeys {
		k, err := ParsePublicKey(b)
		if err != nil {
			return ClientInfo{}, err
		}
		keys[i] = k
	}
	if len(spec.Scope) > 1024 {
		return ClientInfo{}, core.E(core.KindInvalidInput, "scope is longer than 1024 characters")
	}
	orgID := spec.OrgID
	if orgID == "" {
		o, err := svc.CreateOrganisation(ctx, spec.Name)
		if err != nil {
			return ClientInfo{}, err
		}
		orgID = o.ID
	} else if _, err := svc.Store.GetOrganisation(ctx, orgID); err != nil {
		return ClientInfo{}, err
	}
	p, err := svc.CreatePrincipal(ctx, orgID, core.PrincipalApplication, spec.Name)
	if err != nil {
		return ClientInfo{}, err
	}
	meta, _ := json.Marshal(clientMeta{Scope: spec.Scope})
	c, secret, err := svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: orgID, PrincipalID: p.ID, Kind: core.CredClientSecret, Name: "TAAP client secret", Meta: meta})
	if err != nil {
		return ClientInfo{}, err
	}
	info := ClientInfo{OrgID: orgID, PrincipalID: p.ID, ClientID: c.Lookup, ClientSecret: secret, Scope: spec.Scope}
	for _, k := range keys {
		tp, err := addKey(ctx, svc, orgID, p.ID, c.Lookup, k)
		if err != nil {
			return ClientInfo{}, err
		}
		info.Thumbprints = append(info.Thumbprints, tp)
	}
	if err := svc.Audit.Record(ctx, core.AuditEvent{Action: core.AuditCreate, Protocol: protocol, OrgID: orgID, PrincipalID: p.ID, Subject: c.Lookup, Reason: "TAAP client registered"}); err != nil {
		return ClientInfo{}, err
	}
	return info, nil
}

func addKey(ctx context.Context, svc core.Services, orgID, principalID, clientID string, k *rsa.PublicKey) (string, error) {
	tp := Thumbprint(k)
	_, _, err := svc.Credentials.Create(ctx, core.CredentialSpec{
		OrgID: orgID, PrincipalID: principalID, Kind: core.CredPublicKey,
		Lookup: clientID + "." + tp, Name: "TAAP PoP key", Public: PublicKeyPEM(k),
	})
	return tp, err
}

// client is what the verifier needs to know about a client at run time.
type client struct {
	principal core.Principal
	keys      []*rsa.PublicKey
	loaded    time.Time
}

type (
	principalGetter interface {
		GetPrincipal(ctx context.Context, id string) (core.Principal, error)
	}
	credentialLister interface {
		ListCredentials(ctx context.Context, f core.CredentialFilter, p core.Page) ([]core.Credential, int, error)
	}
)

var (
	_ principalGetter  = (core.Store)(nil)
	_ credentialLister = (core.Store)(nil)
)

// clientCache keeps parsed client keys per principal for a short time so
// a PoP request costs no key parsing and no extra reads.
type clientCache struct {
	principals principalGetter
	creds      credentialLister
	clock      core.Clock
	ttl        time.Duration
	mu         sync.RWMutex
	m          map[string]*client
}

const maxCachedClients = 10000

// fresh reports whether something loaded at loaded is younger than ttl at
// now. A clock that stepped back (NTP) makes the entry stale rather than
// extending its life by the size of the step.
func fresh(now, loaded time.Time, ttl time.Duration) bool {
	age := now.Sub(loaded)
	return age >= 0 && age < ttl
}

func (c *clientCache) get(ctx context.Context, principalID string) (*client, error) {
	now := c.clock.Now()
	c.mu.RLock()
	cl := c.m[principalID]
	c.mu.RUnlock()
	if cl != nil && fresh(now, cl.loaded, c.ttl) {
		return cl, nil
	}
	p, err := c.principals.GetPrincipal(ctx, principalID)
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return nil, fail(CheckClient, "unknown client")
		}
		return nil, err
	}
	if p.Kind != core.PrincipalApplication {
		return nil, fail(CheckClient, "the principal is not a TAAP client")
	}
	if p.Disabled {
		return nil, fail(CheckClient, "the client is disabled")
	}
	creds, _, err := c.creds.ListCredentials(ctx, core.CredentialFilter{PrincipalID: principalID, Kind: core.CredPublicKey}, core.Page{Limit: maxClientKeys})
	if err != nil {
		return nil, err
	}
	cl = &client{principal: p, loaded: now}
	for _, cr := range creds {
		if !cr.Active(now) {
			continue
		}
		if k, err := ParsePublicKey(cr.Public); err == nil {
			cl.keys = append(cl.keys, k)
		}
	}
	if c.ttl > 0 {
		c.mu.Lock()
		if len(c.m) >= maxCachedClients {
			clear(c.m)
		}
		c.m[principalID] = cl
		c.mu.Unlock()
	}
	return cl, nil
}

// forget drops a client so its next request reads its keys and state again.
func (c *clientCache) forget(principalID string) {
	c.mu.Lock()
	delete(c.m, principalID)
	c.mu.Unlock()
}
