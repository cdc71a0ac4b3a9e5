package taap

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// The lifecycle of TAAP's objects — clients, their PoP keys, SIM records —
// is one set of operations (Admin) that the admin API's routes
// (AdminRoutes) and the command line (authgate taap) both call. Every
// operation authorizes the asker with the privilege table; reads reach an
// owner's or user's own organisation, changes are an administrator's.
//
// Deleting a client retires it for good rather than removing its rows:
// its secret and every key are revoked, its principal disabled and every
// token issued to it revoked, so no request can authenticate as it again
// (tokens, PoP signatures, the token endpoint), while the audit trail
// keeps naming an object that still exists and its client id can never be
// handed out again. A deleted client is answered 404 like one that never
// existed. SIM records are plain documents and are deleted.

// maxClientKeys bounds a client's active PoP keys: the verifier loads at
// most this many (clientCache), so registering more would silently drop some.
const maxClientKeys = 16

// Admin is the lifecycle of TAAP's objects.
type Admin struct {
	svc core.Services
	// forget drops a client from this node's key cache at once (the
	// module's); other nodes and processes see a change within
	// taap.client_cache_ttl. nil: no cache to drop.
	forget func(principalID string)
}

// NewAdmin builds the operations on svc, for a process without the TAAP
// module (the CLI).
func NewAdmin(svc core.Services) *Admin { return &Admin{svc: svc} }

// Client is a registered client as the admin API and the CLI show it
// (never its secret).
type Client struct {
	ClientID    string    `json:"client_id"`
	OrgID       string    `json:"org_id"`
	PrincipalID string    `json:"principal_id"`
	Name        string    `json:"name"`
	Scope       string    `json:"scope"`
	Disabled    bool      `json:"disabled"` // the principal is disabled: nothing authenticates as it
	CreatedAt   time.Time `json:"created_at"`
}

// ClientKey is one of a client's PoP public keys.
type ClientKey struct {
	KID       string     `json:"kid"` // RFC 7638 SHA-256 thumbprint
	ClientID  string     `json:"client_id"`
	OrgID     string     `json:"org_id"`
	PublicKey string     `json:"public_key"` // SPKI PEM
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// SIMRecord is a SIM record with the organisation whose clients may read it.
type SIMRecord struct {
	ICCID     string    `json:"iccid"`
	OrgID     string    `json:"org_id"`
	IMSI      string    `json:"imsi"`
	MSISDN    string    `json:"msisdn"`
	Status    string    `json:"status"`
	Label     string    `json:"label"`
	CreatedAt time.Time `json:"created_at"`
}

// ClientDeletion is what deleting a client did.
type ClientDeletion struct {
	ClientID      string `json:"client_id"`
	Deleted       bool   `json:"deleted"`
	KeysRevoked   int    `json:"keys_revoked"`
	TokensRevoked int    `json:"tokens_revoked"`
}

// KeyRevocation is what revoking a key did.
type KeyRevocation struct {
	ClientID string `json:"client_id"`
	KID      string `json:"kid"`
	Revoked  bool   `json:"revoked"`
}

// SIMDeletion is what deleting a SIM record did.
type SIMDeletion struct {
	ICCID   string `json:"iccid"`
	Deleted bool   `json:"deleted"`
}

var errNoClient = core.E(core.KindNotFound, "no such TAAP client")

// client finds a live (not deleted) client by its client id.
func (a *Admin) client(ctx context.Context, clientID string) (core.Credential, core.Principal, error) {
	if err := core.CheckObjectID(clientID, "TAAP client"); err != nil {
		return core.Credential{}, core.Principal{}, err
	}
	c, err := a.svc.Store.FindCredential(ctx, core.CredClientSecret, clientID)
	if core.KindOf(err) == core.KindNotFound || err == nil && c.RevokedAt != nil {
		return core.Credential{}, core.Principal{}, errNoClient
	}
	if err != nil {
		return core.Credential{}, core.Principal{}, err
	}
	p, err := a.svc.Store.GetPrincipal(ctx, c.PrincipalID)
	if core.KindOf(err) == core.KindNotFound {
		return core.Credential{}, core.Principal{}, errNoClient
	}
	return c, p, err
}

// clientFor finds a live client and checks who may perform action on it
// (core.Lookup: a client the caller may not see is not found either).
func (a *Admin) clientFor(ctx context.Context, who core.Gate, action core.Action, clientID, subject string) (core.Credential, core.Principal, error) {
	var c core.Credential
	var p core.Principal
	err := core.Lookup(ctx, who, action, subject, errNoClient, func(ctx context.Context) (core.Target, error) {
		var err error
		c, p, err = a.client(ctx, clientID)
		return core.Target{OrgID: c.OrgID, PrincipalID: c.PrincipalID}, err
	})
	if err != nil {
		return core.Credential{}, core.Principal{}, err
	}
	return c, p, nil
}

func clientView(c core.Credential, p core.Principal) Client {
	var meta clientMeta
	_ = json.Unmarshal(c.Meta, &meta) // a client without metadata has no scope
	return Client{ClientID: c.Lookup, OrgID: c.OrgID, PrincipalID: c.PrincipalID, Name: p.Name, Scope: meta.Scope,
		Disabled: p.Disabled, CreatedAt: c.CreatedAt.UTC()}
}

func subjectClient(id string) string { return "taap client " + core.LogSafe(id, 128) }

// CreateClient registers a client (CreateClient); its secret is in the answer only.
func (a *Admin) CreateClient(ctx context.Context, who core.Gate, spec ClientSpec) (ClientInfo, error) {
	if err := who.Authorize(ctx, core.ActClientsCreate, core.Target{OrgID: spec.OrgID}, "taap client "+core.LogSafe(spec.Name, 128)); err != nil {
		return ClientInfo{}, err
	}
	return CreateClient(ctx, a.svc, spec)
}

// ListClients lists the live clients of orgID ("" : every organisation
// for an administrator, the asker's own for anyone else), oldest first.
func (a *Admin) ListClients(ctx context.Context, who core.Gate, orgID string, page core.Page) ([]Client, int, error) {
	org, err := core.ListOrg(ctx, who, core.ActClientsRead, orgID, "taap clients")
	if err != nil {
		return nil, 0, err
	}
	creds, total, err := a.svc.Store.ListCredentials(ctx, core.CredentialFilter{OrgID: org, Kind: core.CredClientSecret}, page)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Client, 0, len(creds))
	for _, c := range creds {
		p, err := a.svc.Store.GetPrincipal(ctx, c.PrincipalID)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, clientView(c, p))
	}
	return out, total, nil
}

// GetClient shows one live client.
func (a *Admin) GetClient(ctx context.Context, who core.Gate, clientID string) (Client, error) {
	c, p, err := a.clientFor(ctx, who, core.ActClientsRead, clientID, subjectClient(clientID))
	if err != nil {
		return Client{}, err
	}
	return clientView(c, p), nil
}

// DeleteClient retires a client: its secret first (no new token can be
// issued), then every key (no PoP signature verifies), its principal
// disabled and every token issued to it revoked.
func (a *Admin) DeleteClient(ctx context.Context, who core.Gate, clientID string) (ClientDeletion, error) {
	c, _, err := a.clientFor(ctx, who, core.ActClientsDelete, clientID, subjectClient(clientID))
	if err != nil {
		return ClientDeletion{}, err
	}
	now := a.svc.Clock.Now()
	if err := a.svc.Store.RevokeCredential(ctx, c.ID, now); err != nil {
		return ClientDeletion{}, err
	}
	keys, err := a.revokeKeys(ctx, c.PrincipalID, now)
	if err != nil {
		return ClientDeletion{}, err
	}
	if err := a.svc.Store.SetPrincipalDisabled(ctx, c.PrincipalID, true); err != nil {
		return ClientDeletion{}, err
	}
	n, err := a.svc.Tokens.RevokePrincipal(ctx, c.PrincipalID)
	if err != nil {
		return ClientDeletion{}, err
	}
	if a.forget != nil {
		a.forget(c.PrincipalID)
	}
	d := ClientDeletion{ClientID: clientID, Deleted: true, KeysRevoked: keys, TokensRevoked: n}
	return d, a.svc.Audit.Record(ctx, core.FromRequest(who, core.AuditEvent{Action: core.AuditDelete, Protocol: protocol, OrgID: c.OrgID, PrincipalID: c.PrincipalID,
		Subject: subjectClient(clientID), Reason: "TAAP client deleted by " + core.ActorName(who.Actor()) + "; " + strconv.Itoa(keys) + " keys and " + strconv.Itoa(n) + " tokens revoked"}))
}

// revokeKeys revokes every active public key of a principal.
func (a *Admin) revokeKeys(ctx context.Context, principalID string, now time.Time) (int, error) {
	n := 0
	for {
		keys, _, err := a.svc.Store.ListCredentials(ctx, core.CredentialFilter{PrincipalID: principalID, Kind: core.CredPublicKey}, core.Page{Limit: 100})
		if err != nil || len(keys) == 0 {
			return n, err
		}
		for _, k := range keys {
			if err := a.svc.Store.RevokeCredential(ctx, k.ID, now); err != nil {
				return n, err
			}
			n++
		}
	}
}

func keyView(clientID string, c core.Credential) ClientKey {
	return ClientKey{KID: strings.TrimPrefix(c.Lookup, clientID+"."), ClientID: clientID, OrgID: c.OrgID, PublicKey: string(c.Public),
		CreatedAt: c.CreatedAt.UTC(), RevokedAt: utcPtr(c.RevokedAt)}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func subjectKey(clientID, kid string) string {
	return "taap client " + core.LogSafe(clientID, 128) + " key " + core.LogSafe(kid, 64)
}

// AddKey registers another public key for a live client (key rotation:
// both verify until the old one is revoked).
func (a *Admin) AddKey(ctx context.Context, who core.Gate, clientID string, publicKey []byte) (ClientKey, error) {
	c, _, err := a.clientFor(ctx, who, core.ActClientKeysCreate, clientID, subjectClient(clientID))
	if err != nil {
		return ClientKey{}, err
	}
	k, err := ParsePublicKey(publicKey)
	if err != nil {
		return ClientKey{}, err
	}
	_, active, err := a.svc.Store.ListCredentials(ctx, core.CredentialFilter{PrincipalID: c.PrincipalID, Kind: core.CredPublicKey}, core.Page{Limit: 1})
	if err != nil {
		return ClientKey{}, err
	}
	if active >= maxClientKeys {
		return ClientKey{}, core.E(core.KindInvalidInput, "a TAAP client has at most "+strconv.Itoa(maxClientKeys)+" active keys: revoke one first")
	}
	tp, err := addKey(ctx, a.svc, c.OrgID, c.PrincipalID, clientID, k)
	if core.KindOf(err) == core.KindConflict {
		return ClientKey{}, core.E(core.KindConflict, "the client has this key already (a revoked key cannot be registered again)")
	}
	if err != nil {
		return ClientKey{}, err
	}
	if a.forget != nil {
		a.forget(c.PrincipalID)
	}
	if err := a.svc.Audit.Record(ctx, core.FromRequest(who, core.AuditEvent{Action: core.AuditCreate, Protocol: protocol, OrgID: c.OrgID, PrincipalID: c.PrincipalID,
		Subject: subjectKey(clientID, tp), Reason: "TAAP client key added"})); err != nil {
		return ClientKey{}, err
	}
	return a.key(ctx, c, tp)
}

// key finds one key (live or revoked) of a client.
func (a *Admin) key(ctx context.Context, c core.Credential, kid string) (ClientKey, error) {
	notFound := core.E(core.KindNotFound, "the TAAP client has no such key")
	if err := core.CheckObjectID(kid, "key"); err != nil {
		return ClientKey{}, notFound
	}
	k, err := a.svc.Store.FindCredential(ctx, core.CredPublicKey, c.Lookup+"."+kid)
	if core.KindOf(err) == core.KindNotFound || err == nil && k.PrincipalID != c.PrincipalID {
		return ClientKey{}, notFound
	}
	if err != nil {
		return ClientKey{}, err
	}
	return keyView(c.Lookup, k), nil
}

// ListKeys lists a live client's keys, the revoked ones too with includeRevoked.
func (a *Admin) ListKeys(ctx context.Context, who core.Gate, clientID string, includeRevoked bool, page core.Page) ([]ClientKey, int, error) {
	c, _, err := a.clientFor(ctx, who, core.ActClientKeysRead, clientID, subjectClient(clientID))
	if err != nil {
		return nil, 0, err
	}
	creds, total, err := a.svc.Store.ListCredentials(ctx, core.CredentialFilter{PrincipalID: c.PrincipalID, Kind: core.CredPublicKey, IncludeRevoked: includeRevoked}, page)
	if err != nil {
		return nil, 0, err
	}
	out := make([]ClientKey, 0, len(creds))
	for _, k := range creds {
		out = append(out, keyView(clientID, k))
	}
	return out, total, nil
}

// GetKey shows one key of a live client, revoked or not.
func (a *Admin) GetKey(ctx context.Context, who core.Gate, clientID, kid string) (ClientKey, error) {
	c, _, err := a.clientFor(ctx, who, core.ActClientKeysRead, clientID, subjectKey(clientID, kid))
	if err != nil {
		return ClientKey{}, err
	}
	return a.key(ctx, c, kid)
}

// RevokeKey revokes one key: PoP tokens it signs are refused from then on
// (on other nodes within taap.client_cache_ttl). Access tokens stay: every
// request needs a PoP signature by a key that is still active.
func (a *Admin) RevokeKey(ctx context.Context, who core.Gate, clientID, kid string) (KeyRevocation, error) {
	c, _, err := a.clientFor(ctx, who, core.ActClientKeysRevoke, clientID, subjectKey(clientID, kid))
	if err != nil {
		return KeyRevocation{}, err
	}
	k, err := a.key(ctx, c, kid)
	if err != nil {
		return KeyRevocation{}, err
	}
	if k.RevokedAt != nil {
		return KeyRevocation{}, core.E(core.KindConflict, "the key is revoked already")
	}
	cred, err := a.svc.Store.FindCredential(ctx, core.CredPublicKey, clientID+"."+kid)
	if err != nil {
		return KeyRevocation{}, err
	}
	if err := a.svc.Store.RevokeCredential(ctx, cred.ID, a.svc.Clock.Now()); err != nil {
		return KeyRevocation{}, err
	}
	if a.forget != nil {
		a.forget(c.PrincipalID)
	}
	return KeyRevocation{ClientID: clientID, KID: kid, Revoked: true}, a.svc.Audit.Record(ctx, core.FromRequest(who, core.AuditEvent{Action: core.AuditRevoke, Protocol: protocol,
		OrgID: c.OrgID, PrincipalID: c.PrincipalID, Subject: subjectKey(clientID, kid), Reason: "TAAP client key revoked by " + core.ActorName(who.Actor())}))
}

func simView(d core.Document) (SIMRecord, error) {
	var s SIM
	if err := json.Unmarshal(d.Data, &s); err != nil {
		return SIMRecord{}, core.Wrap(core.KindInternal, "", err)
	}
	return SIMRecord{ICCID: s.ICCID, OrgID: d.OrgID, IMSI: s.IMSI, MSISDN: s.MSISDN, Status: s.Status, Label: s.Label, CreatedAt: s.CreatedAt.UTC()}, nil
}

func subjectSIM(iccid string) string { return "taap sim " + core.LogSafe(iccid, 32) }

// AddSIM stores a SIM record for orgID (AddSIM).
func (a *Admin) AddSIM(ctx context.Context, who core.Gate, orgID string, s SIM) (SIMRecord, error) {
	if err := core.RefuseUngranted(ctx, who, core.ActSIMsCreate, subjectSIM(s.ICCID)); err != nil {
		return SIMRecord{}, err
	}
	if err := core.CheckObjectID(orgID, "organisation"); err != nil {
		return SIMRecord{}, err
	}
	if err := who.Authorize(ctx, core.ActSIMsCreate, core.Target{OrgID: orgID}, subjectSIM(s.ICCID)); err != nil {
		return SIMRecord{}, err
	}
	s, err := AddSIM(ctx, a.svc, orgID, s)
	if err != nil {
		return SIMRecord{}, err
	}
	if err := a.svc.Audit.Record(ctx, core.FromRequest(who, core.AuditEvent{Action: core.AuditCreate, Protocol: protocol, OrgID: orgID, Subject: subjectSIM(s.ICCID), Reason: "SIM record added"})); err != nil {
		return SIMRecord{}, err
	}
	return SIMRecord{ICCID: s.ICCID, OrgID: orgID, IMSI: s.IMSI, MSISDN: s.MSISDN, Status: s.Status, Label: s.Label, CreatedAt: s.CreatedAt}, nil
}

// ListSIMs lists the SIM records of orgID ("" as for ListClients), newest first.
func (a *Admin) ListSIMs(ctx context.Context, who core.Gate, orgID string, page core.Page) ([]SIMRecord, int, error) {
	org, err := core.ListOrg(ctx, who, core.ActSIMsRead, orgID, "taap sims")
	if err != nil {
		return nil, 0, err
	}
	docs, total, err := a.svc.Store.ListDocuments(ctx, CollectionSIMs, org, page)
	if err != nil {
		return nil, 0, err
	}
	out := make([]SIMRecord, 0, len(docs))
	for _, d := range docs {
		s, err := simView(d)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, s)
	}
	return out, total, nil
}

var errNoSIM = core.E(core.KindNotFound, "no such SIM record")

// sim finds a SIM record and checks who may perform action on it
// (core.Lookup: a record the caller may not see is not found either); a
// malformed ICCID is invalid input, whoever asks.
func (a *Admin) sim(ctx context.Context, who core.Gate, action core.Action, iccid string) (core.Document, error) {
	var d core.Document
	err := core.Lookup(ctx, who, action, subjectSIM(iccid), errNoSIM, func(ctx context.Context) (core.Target, error) {
		if err := ValidICCID(iccid); err != nil {
			return core.Target{}, err
		}
		var err error
		d, err = a.svc.Store.GetDocument(ctx, CollectionSIMs, iccid)
		return core.Target{OrgID: d.OrgID}, err
	})
	if err != nil {
		return core.Document{}, err
	}
	return d, nil
}

// GetSIM shows one SIM record.
func (a *Admin) GetSIM(ctx context.Context, who core.Gate, iccid string) (SIMRecord, error) {
	d, err := a.sim(ctx, who, core.ActSIMsRead, iccid)
	if err != nil {
		return SIMRecord{}, err
	}
	return simView(d)
}

// DeleteSIM deletes a SIM record: the connectivity resource answers 404 for it.
func (a *Admin) DeleteSIM(ctx context.Context, who core.Gate, iccid string) (SIMDeletion, error) {
	d, err := a.sim(ctx, who, core.ActSIMsDelete, iccid)
	if err != nil {
		return SIMDeletion{}, err
	}
	if err := a.svc.Store.DeleteDocument(ctx, CollectionSIMs, iccid); err != nil {
		if core.KindOf(err) == core.KindNotFound { // deleted meanwhile
			return SIMDeletion{}, errNoSIM
		}
		return SIMDeletion{}, err
	}
	return SIMDeletion{ICCID: iccid, Deleted: true}, a.svc.Audit.Record(ctx, core.FromRequest(who, core.AuditEvent{Action: core.AuditDelete, Protocol: protocol, OrgID: d.OrgID,
		Subject: subjectSIM(iccid), Reason: "SIM record deleted by " + core.ActorName(who.Actor())}))
}
