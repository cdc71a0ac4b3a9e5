package m2m

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// The lifecycle of the M2M objects — partners, M2MApiKeys, SIMs and the
// callback outbox: one set of operations, called by the admin API
// (/admin/m2m/...) and by the CLI (authgate m2m ...), each authorizing its
// caller with the privilege table through a core.Gate. Partners come from
// the configuration: an operation naming a partner the environment does
// not list is refused (not found) and provisions nothing.

// The services the operations need beyond Deps, as small interfaces.
type (
	adminStore interface {
		GetPrincipal(ctx context.Context, id string) (core.Principal, error)
		GetCredential(ctx context.Context, id string) (core.Credential, error)
		ListCredentials(ctx context.Context, f core.CredentialFilter, p core.Page) ([]core.Credential, int, error)
		ListDocuments(ctx context.Context, collection, orgID string, p core.Page) ([]core.Document, int, error)
		DeleteDocument(ctx context.Context, collection, id string) error
		GetJob(ctx context.Context, id string) (core.Job, error)
		ListJobs(ctx context.Context, f core.JobFilter, p core.Page) ([]core.Job, int, error)
		RequeueJob(ctx context.Context, id string, runAt time.Time) error
	}
	revoker interface {
		// RevokeCredential revokes a credential and the tokens issued on it, audited.
		RevokeCredential(ctx context.Context, c core.Credential, by core.Revocation) (int, error)
	}
)

var (
	_ adminStore = (core.Store)(nil)
	_ revoker    = core.Services{}
)

// Admin are the operations on the M2M objects.
type Admin struct {
	cfg   Config
	d     Deps
	store adminStore
	rev   revoker
}

// NewAdmin builds the operations from the section (its partners) and the
// core services.
func NewAdmin(cfg Config, svc core.Services) *Admin {
	return &Admin{cfg: cfg, d: DepsFrom(svc, httpapi.ClientAddr{}), store: svc.Store, rev: svc}
}

// outboxScan bounds how many of the newest jobs an organisation's outbox
// listing reads (jobs carry no organisation: it is their partner's).
const outboxScan = 5000

// PartnerView is a partner: its configuration (never key material) and
// the organisation and principal it is bound to once provisioned.
type PartnerView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Envs        []string `json:"envs"` // the environments listing it; none: no longer configured
	OrgID       string   `json:"org_id,omitempty"`
	PrincipalID string   `json:"principal_id,omitempty"`
	SenderID    string   `json:"sender_id,omitempty"`
	PartnerID   string   `json:"partner_id,omitempty"`
	AdmClURL    string   `json:"adm_cl_url,omitempty"`
	MonClURL    string   `json:"mon_cl_url,omitempty"`
}

// APIKeyView is an M2MApiKey without its secret.
type APIKeyView struct {
	ID          string     `json:"id"`
	Lookup      string     `json:"lookup"` // the part before "." of the key
	Env         string     `json:"env"`
	Partner     string     `json:"partner"`
	OrgID       string     `json:"org_id"`
	PrincipalID string     `json:"principal_id"`
	CreatedAt   time.Time  `json:"created_at"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

// APIKey is a created M2MApiKey: its view and the whole key, shown once.
type APIKey struct {
	APIKeyView
	Secret string `json:"secret"`
}

// SIMView is a SIM with the organisation of its partner.
type SIMView struct {
	SIM
	OrgID string `json:"org_id"`
}

// JobView is one job of an environment's callback outbox: what it does and
// how it went, never the message it sends.
type JobView struct {
	ID        string `json:"id"`
	Env       string `json:"env"`
	Kind      string `json:"kind"` // adm (execute a request), admcl / moncl (notify M2MAdmCl / M2MMonCl)
	Partner   string `json:"partner,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	ICCID     string `json:"iccid,omitempty"`
	// State is pending, running (leased by a worker), failed or done.
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	FailedAt      *time.Time `json:"failed_at,omitempty"`
	DoneAt        *time.Time `json:"done_at,omitempty"`
}

// List is one page of a listing.
type List[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

// CreateAPIKeyRequest is the body of POST /admin/m2m/apikeys.
type CreateAPIKeyRequest struct {
	Env     string `json:"env"` // TA (default) or PE
	Partner string `json:"partner"`
}

// AddSIMRequest is the body of POST /admin/m2m/sims.
type AddSIMRequest struct {
	Env     string `json:"env"` // TA (default) or PE
	Partner string `json:"partner"`
	ICCID   string `json:"iccid"`
	Tariff  string `json:"tariff,omitempty"` // default M2M_BASIC
}

// ListRequest selects the objects of a listing.
type ListRequest struct {
	OrgID          string // "" every organisation the caller may read
	Partner        string // "" every partner
	Env            string // outbox: "" both environments
	State          string // outbox: "" every state, or pending, failed, done
	IncludeRevoked bool   // API keys
	Page           core.Page
}

// envName checks and normalises an environment name ("" is TA).
func envName(env string) (string, error) {
	switch e := strings.ToUpper(env); e {
	case "":
		return EnvTA, nil
	case EnvTA, EnvPE:
		return e, nil
	}
	return "", core.E(core.KindInvalidInput, "environment must be TA or PE")
}

// configured checks that env lists the partner name.
func (a *Admin) configured(env, name string) error {
	if name == "" || len(name) > 200 {
		return core.E(core.KindNotFound, "no such partner")
	}
	_, err := a.cfg.Partner(env, name)
	return err
}

// record is a partner's core identity, if it was provisioned.
func (a *Admin) record(ctx context.Context, name string) (partnerRecord, bool, error) {
	var rec partnerRecord
	doc, err := a.d.Docs.GetDocument(ctx, CollectionPartners, name)
	if core.KindOf(err) == core.KindNotFound {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	return rec, true, json.Unmarshal(doc.Data, &rec)
}

// partnerNames are the configured partners and the provisioned ones, sorted.
func (a *Admin) partnerNames(ctx context.Context) ([]string, map[string]partnerRecord, error) {
	recs := map[string]partnerRecord{}
	names := map[string]bool{}
	for _, env := range []string{EnvTA, EnvPE} {
		for _, p := range a.cfg.Envs()[env].Partners {
			names[p.Name] = true
		}
	}
	for off := 0; ; off += 1000 {
		docs, total, err := a.store.ListDocuments(ctx, CollectionPartners, "", core.Page{Offset: off, Limit: 1000})
		if err != nil {
			return nil, nil, err
		}
		for _, d := range docs {
			var rec partnerRecord
			if json.Unmarshal(d.Data, &rec) == nil {
				recs[rec.Name], names[rec.Name] = rec, true
			}
		}
		if len(docs) == 0 || off+len(docs) >= total {
			break
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, recs, nil
}

func (a *Admin) partnerView(name string, rec partnerRecord) PartnerView {
	v := PartnerView{ID: name, Name: name, Envs: []string{}, OrgID: rec.OrgID, PrincipalID: rec.PrincipalID}
	for _, env := range []string{EnvTA, EnvPE} {
		if p, err := a.cfg.Partner(env, name); err == nil {
			v.Envs = append(v.Envs, env)
			v.SenderID, v.PartnerID = cmpOr(v.SenderID, p.SenderID), cmpOr(v.PartnerID, p.PartnerID)
			v.AdmClURL, v.MonClURL = cmpOr(v.AdmClURL, p.AdmClURL), cmpOr(v.MonClURL, p.MonClURL)
		}
	}
	return v
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ListPartners lists the partners by name: a caller granted every
// organisation sees them all (or r.OrgID's), any other its own
// organisation's (a partner not provisioned yet belongs to none).
func (a *Admin) ListPartners(ctx context.Context, g core.Gate, r ListRequest) (List[PartnerView], error) {
	org, err := core.ListOrg(ctx, g, core.ActM2MPartnersRead, r.OrgID, "m2m partners")
	if err != nil {
		return List[PartnerView]{}, err
	}
	names, recs, err := a.partnerNames(ctx)
	if err != nil {
		return List[PartnerView]{}, err
	}
	var all []PartnerView
	for _, n := range names {
		if rec := recs[n]; org == "" || rec.OrgID == org {
			all = append(all, a.partnerView(n, rec))
		}
	}
	return page(all, r.Page), nil
}

// GetPartner shows one partner.
func (a *Admin) GetPartner(ctx context.Context, g core.Gate, name string) (PartnerView, error) {
	rec, ok, err := a.partner(ctx, g, core.ActM2MPartnersRead, name)
	if err != nil {
		return PartnerView{}, err
	}
	v := a.partnerView(name, rec)
	if !ok && len(v.Envs) == 0 {
		return PartnerView{}, errNoPartner
	}
	return v, nil
}

// The answers for an identifier naming nothing the caller may see.
var (
	errNoPartner = core.E(core.KindNotFound, "no such partner")
	errNoAPIKey  = core.E(core.KindNotFound, "no such M2MApiKey")
	errNoJob     = core.E(core.KindNotFound, "no such job")
)

// partner finds a configured or provisioned partner and authorizes action
// on its organisation (core.Lookup: a partner the caller may not see is
// not found either).
func (a *Admin) partner(ctx context.Context, g core.Gate, action core.Action, name string) (partnerRecord, bool, error) {
	var rec partnerRecord
	var ok bool
	err := core.Lookup(ctx, g, action, "m2m partner "+core.LogSafe(name, 200), errNoPartner, func(ctx context.Context) (core.Target, error) {
		if name == "" || len(name) > 200 {
			return core.Target{}, errNoPartner
		}
		var err error
		if rec, ok, err = a.record(ctx, name); err != nil {
			return core.Target{}, err
		}
		if !ok && a.configured(EnvTA, name) != nil && a.configured(EnvPE, name) != nil {
			return core.Target{}, errNoPartner
		}
		if rec.OrgID == "" && core.Granted(g.Actor().Kind, action) != core.ReachAll {
			// Not provisioned yet: in no organisation, so in nobody's own view.
			return core.Target{}, errNoPartner
		}
		return core.Target{OrgID: rec.OrgID}, nil
	})
	if err != nil {
		return partnerRecord{}, false, err
	}
	return rec, ok, nil
}

// CreateAPIKey issues an M2MApiKey for a partner the environment lists.
// The key is returned once, as "<lookup>.<secret>"; only its keyed hash is
// stored.
func (a *Admin) CreateAPIKey(ctx context.Context, g core.Gate, r CreateAPIKeyRequest) (APIKey, error) {
	env, err := envName(r.Env)
	if err != nil {
		return APIKey{}, err
	}
	// Refused before the configuration tells which partners it lists.
	if err := g.Authorize(ctx, core.ActM2MAPIKeysCreate, core.Target{}, "M2MApiKey of "+core.LogSafe(r.Partner, 200)+" in "+env); err != nil {
		return APIKey{}, err
	}
	// Only a configured partner: never provision an organisation for a typo.
	if err := a.configured(env, r.Partner); err != nil {
		return APIKey{}, err
	}
	c, key, err := issueAPIKey(ctx, a.d, env, r.Partner)
	if err != nil {
		return APIKey{}, err
	}
	return APIKey{APIKeyView: apiKeyView(c, r.Partner), Secret: key}, nil
}

// ListAPIKeys lists M2MApiKeys, oldest first.
func (a *Admin) ListAPIKeys(ctx context.Context, g core.Gate, r ListRequest) (List[APIKeyView], error) {
	org, err := core.ListOrg(ctx, g, core.ActM2MAPIKeysRead, r.OrgID, "m2m apikeys")
	if err != nil {
		return List[APIKeyView]{}, err
	}
	f := core.CredentialFilter{OrgID: org, Kind: core.CredAPIKey, IncludeRevoked: r.IncludeRevoked}
	if r.Partner != "" {
		rec, ok, err := a.partner(ctx, g, core.ActM2MAPIKeysRead, r.Partner)
		if err != nil {
			return List[APIKeyView]{}, err
		}
		if !ok || (org != "" && rec.OrgID != org) {
			return List[APIKeyView]{Items: []APIKeyView{}}, nil
		}
		f.PrincipalID = rec.PrincipalID
	}
	cs, total, err := a.store.ListCredentials(ctx, f, r.Page)
	if err != nil {
		return List[APIKeyView]{}, err
	}
	out := List[APIKeyView]{Items: make([]APIKeyView, 0, len(cs)), Total: total}
	names := map[string]string{}
	for _, c := range cs {
		if _, ok := names[c.PrincipalID]; !ok {
			p, err := a.store.GetPrincipal(ctx, c.PrincipalID)
			if err != nil {
				return List[APIKeyView]{}, err
			}
			names[c.PrincipalID] = p.Name
		}
		out.Items = append(out.Items, apiKeyView(c, names[c.PrincipalID]))
	}
	return out, nil
}

// GetAPIKey shows one M2MApiKey (never its secret).
func (a *Admin) GetAPIKey(ctx context.Context, g core.Gate, id string) (APIKeyView, error) {
	c, name, err := a.apiKey(ctx, g, core.ActM2MAPIKeysRead, id)
	if err != nil {
		return APIKeyView{}, err
	}
	return apiKeyView(c, name), nil
}

// RevokeAPIKey revokes an M2MApiKey: the next request carrying it is
// refused. Revoking a revoked key again changes nothing.
func (a *Admin) RevokeAPIKey(ctx context.Context, g core.Gate, id string) (APIKeyView, error) {
	c, name, err := a.apiKey(ctx, g, core.ActM2MAPIKeysRevoke, id)
	if err != nil {
		return APIKeyView{}, err
	}
	if c.RevokedAt == nil {
		if _, err := a.rev.RevokeCredential(ctx, c, core.RevocationBy(g, protocol, "M2MApiKey revoked")); err != nil {
			return APIKeyView{}, err
		}
		if c, err = a.store.GetCredential(ctx, c.ID); err != nil {
			return APIKeyView{}, err
		}
	}
	return apiKeyView(c, name), nil
}

// apiKey reads the M2MApiKey id names and authorizes action on it
// (core.Lookup: a key the caller may not see is not found either).
func (a *Admin) apiKey(ctx context.Context, g core.Gate, action core.Action, id string) (core.Credential, string, error) {
	var c core.Credential
	err := core.Lookup(ctx, g, action, "M2MApiKey "+core.LogSafe(id, 200), errNoAPIKey, func(ctx context.Context) (core.Target, error) {
		if id == "" || len(id) > 200 {
			return core.Target{}, errNoAPIKey
		}
		var err error
		c, err = a.store.GetCredential(ctx, id)
		if err == nil && c.Kind != core.CredAPIKey {
			return core.Target{}, errNoAPIKey
		}
		return core.Target{OrgID: c.OrgID}, err
	})
	if err != nil {
		return core.Credential{}, "", err
	}
	p, err := a.store.GetPrincipal(ctx, c.PrincipalID)
	return c, p.Name, err
}

func apiKeyView(c core.Credential, partner string) APIKeyView {
	var meta APIKeyMeta
	_ = json.Unmarshal(c.Meta, &meta)
	return APIKeyView{ID: c.ID, Lookup: c.Lookup, Env: meta.Env, Partner: partner, OrgID: c.OrgID, PrincipalID: c.PrincipalID,
		CreatedAt: c.CreatedAt, RevokedAt: c.RevokedAt}
}

// AddSIM provisions a shipped SIM for a partner the environment lists.
func (a *Admin) AddSIM(ctx context.Context, g core.Gate, r AddSIMRequest) (SIMView, error) {
	env, err := envName(r.Env)
	if err != nil {
		return SIMView{}, err
	}
	if err := g.Authorize(ctx, core.ActM2MSIMsCreate, core.Target{}, "SIM "+core.LogSafe(r.ICCID, 24)+" in "+env); err != nil {
		return SIMView{}, err
	}
	if err := a.configured(env, r.Partner); err != nil {
		return SIMView{}, err
	}
	s, err := AddSIM(ctx, a.d, env, r.Partner, r.ICCID, r.Tariff)
	if err != nil {
		return SIMView{}, err
	}
	_, doc, err := loadSIM(ctx, a.d, env, s.ICCID)
	return SIMView{SIM: s, OrgID: doc.OrgID}, err
}

// ListSIMs lists SIMs, newest first.
func (a *Admin) ListSIMs(ctx context.Context, g core.Gate, r ListRequest) (List[SIMView], error) {
	org, err := core.ListOrg(ctx, g, core.ActM2MSIMsRead, r.OrgID, "m2m sims")
	if err != nil {
		return List[SIMView]{}, err
	}
	if r.Partner != "" {
		// A partner is an organisation of its own: its SIMs are that organisation's.
		rec, ok, err := a.partner(ctx, g, core.ActM2MSIMsRead, r.Partner)
		if err != nil {
			return List[SIMView]{}, err
		}
		if !ok || (org != "" && rec.OrgID != org) {
			return List[SIMView]{Items: []SIMView{}}, nil
		}
		org = rec.OrgID
	}
	docs, total, err := a.store.ListDocuments(ctx, CollectionSIMs, org, r.Page)
	if err != nil {
		return List[SIMView]{}, err
	}
	out := List[SIMView]{Items: make([]SIMView, 0, len(docs)), Total: total}
	for _, d := range docs {
		var s SIM
		if err := json.Unmarshal(d.Data, &s); err != nil {
			return List[SIMView]{}, core.Wrap(core.KindInternal, "SIM "+d.ID, err)
		}
		out.Items = append(out.Items, SIMView{SIM: s, OrgID: d.OrgID})
	}
	return out, nil
}

// GetSIM shows one SIM of an environment.
func (a *Admin) GetSIM(ctx context.Context, g core.Gate, env, iccid string) (SIMView, error) {
	s, doc, err := a.sim(ctx, g, core.ActM2MSIMsRead, env, iccid)
	return SIMView{SIM: s, OrgID: doc.OrgID}, err
}

// DeleteSIM removes a SIM from an environment: the partner's next request
// about it is answered as for an unknown ICCID.
func (a *Admin) DeleteSIM(ctx context.Context, g core.Gate, env, iccid string) (SIMView, error) {
	s, doc, err := a.sim(ctx, g, core.ActM2MSIMsDelete, env, iccid)
	if err != nil {
		return SIMView{}, err
	}
	if err := a.store.DeleteDocument(ctx, CollectionSIMs, doc.ID); err != nil {
		return SIMView{}, err
	}
	return SIMView{SIM: s, OrgID: doc.OrgID}, a.d.Audit.Record(ctx, a.event(g, core.AuditDelete, doc.OrgID, s.ICCID, "SIM removed from "+s.Env))
}

func (a *Admin) sim(ctx context.Context, g core.Gate, action core.Action, env, iccid string) (SIM, core.Document, error) {
	env, err := envName(env)
	if err != nil {
		return SIM{}, core.Document{}, err
	}
	var s SIM
	var doc core.Document
	err = core.Lookup(ctx, g, action, "SIM "+core.LogSafe(iccid, 24)+" in "+env, core.E(core.KindNotFound, "no such SIM in "+env), func(ctx context.Context) (core.Target, error) {
		if !ValidICCID(iccid) {
			return core.Target{}, core.E(core.KindNotFound, "no such SIM")
		}
		var err error
		s, doc, err = loadSIM(ctx, a.d, env, iccid)
		return core.Target{OrgID: doc.OrgID}, err
	})
	if err != nil {
		return SIM{}, core.Document{}, err
	}
	return s, doc, nil
}

// ListOutbox lists the jobs of the environments' callback outboxes, newest
// first. A listing limited to one organisation (every non-admin's) reads
// the newest outboxScan jobs and keeps those of its partners.
func (a *Admin) ListOutbox(ctx context.Context, g core.Gate, r ListRequest) (List[JobView], error) {
	org, err := core.ListOrg(ctx, g, core.ActM2MOutboxRead, r.OrgID, "m2m outbox")
	if err != nil {
		return List[JobView]{}, err
	}
	f := core.JobFilter{Queues: []string{queueOf(EnvTA), queueOf(EnvPE)}, State: r.State}
	if r.Env != "" {
		env, err := envName(r.Env)
		if err != nil {
			return List[JobView]{}, err
		}
		f.Queues = []string{queueOf(env)}
	}
	switch r.State {
	case "", core.JobPending, core.JobFailed, core.JobDone:
	default:
		return List[JobView]{}, core.E(core.KindInvalidInput, "state must be pending, failed or done")
	}
	now := a.d.Clock.Now()
	if org == "" {
		js, total, err := a.store.ListJobs(ctx, f, r.Page)
		if err != nil {
			return List[JobView]{}, err
		}
		out := List[JobView]{Items: make([]JobView, 0, len(js)), Total: total}
		for _, j := range js {
			out.Items = append(out.Items, jobView(j, now))
		}
		return out, nil
	}
	_, recs, err := a.partnerNames(ctx)
	if err != nil {
		return List[JobView]{}, err
	}
	var all []JobView
	for off := 0; off < outboxScan; off += 1000 {
		js, _, err := a.store.ListJobs(ctx, f, core.Page{Offset: off, Limit: 1000})
		if err != nil {
			return List[JobView]{}, err
		}
		for _, j := range js {
			if v := jobView(j, now); v.Partner != "" && recs[v.Partner].OrgID == org {
				all = append(all, v)
			}
		}
		if len(js) < 1000 {
			break
		}
	}
	return page(all, r.Page), nil
}

// RequeueJob makes a failed outbox job due now: the worker runs it once
// more (a notification that fails again is failed again). Only a failed
// job can be requeued (conflict otherwise); the requeue is audited.
func (a *Admin) RequeueJob(ctx context.Context, g core.Gate, id string) (JobView, error) {
	now := a.d.Clock.Now()
	var v JobView
	org := ""
	err := core.Lookup(ctx, g, core.ActM2MOutboxRequeue, "m2m outbox job "+core.LogSafe(id, 200), errNoJob, func(ctx context.Context) (core.Target, error) {
		if id == "" || len(id) > 200 {
			return core.Target{}, errNoJob
		}
		j, err := a.store.GetJob(ctx, id)
		if err == nil && j.Queue != queueOf(EnvTA) && j.Queue != queueOf(EnvPE) {
			return core.Target{}, errNoJob
		}
		if err != nil {
			return core.Target{}, err
		}
		v = jobView(j, now)
		if v.Partner != "" {
			rec, _, err := a.record(ctx, v.Partner)
			if err != nil {
				return core.Target{}, err
			}
			org = rec.OrgID
		}
		return core.Target{OrgID: org}, nil
	})
	if err != nil {
		return JobView{}, err
	}
	if err := a.store.RequeueJob(ctx, id, now); err != nil {
		if core.KindOf(err) == core.KindConflict {
			return JobView{}, core.E(core.KindConflict, "the job is "+v.State+": only a failed job can be requeued")
		}
		return JobView{}, err
	}
	j, err := a.store.GetJob(ctx, id)
	if err != nil {
		return JobView{}, err
	}
	return jobView(j, now), a.d.Audit.Record(ctx, a.event(g, core.AuditUpdate, org, "outbox job "+id,
		"requeued after: "+core.LogSafe(v.LastError, 200)+";"))
}

func queueOf(env string) string { return "m2m." + env }

func jobView(j core.Job, now time.Time) JobView {
	v := JobView{ID: j.ID, Env: strings.TrimPrefix(j.Queue, "m2m."), Attempts: j.Attempts, LastError: j.LastError,
		CreatedAt: j.CreatedAt, FailedAt: j.FailedAt, DoneAt: j.DoneAt}
	var p jobPayload
	if json.Unmarshal(j.Payload, &p) == nil {
		v.Kind, v.Partner, v.RequestID = p.Kind, p.Partner, p.RequestID
		if p.Event != nil {
			v.ICCID = p.Event.ICCID
		}
	}
	switch {
	case j.DoneAt != nil:
		v.State = core.JobDone
	case j.FailedAt != nil:
		v.State = core.JobFailed
	case j.LockedUntil != nil && j.LockedUntil.After(now):
		v.State = "running"
	default:
		v.State = core.JobPending
		next := j.RunAt
		v.NextAttemptAt = &next
	}
	return v
}

// event is the audit record of a change made through g.
func (a *Admin) event(g core.Gate, action, orgID, subject, reason string) core.AuditEvent {
	return core.ChangeEvent(g, protocol, action, orgID, "", subject, reason)
}

// page cuts one page out of a listing held in memory.
func page[T any](all []T, p core.Page) List[T] {
	out := List[T]{Items: []T{}, Total: len(all)}
	off, limit := max(p.Offset, 0), p.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	if off < len(all) {
		out.Items = all[off:min(off+limit, len(all))]
	}
	return out
}
