package oauth2

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// Access keys and secrets are 64 random bytes, base64url: 86 characters,
// the length the device server documents.
const keyBytes = 64

type keyView struct {
	Name   string `json:"Name"`
	Key    string `json:"Key"`
	Secret string `json:"Secret,omitempty"` // only in the creation response
	Links  []Link `json:"Links"`
}

type pageInfo struct {
	TotalCount int `json:"TotalCount"`
	ItemsCount int `json:"ItemsCount"`
	StartIndex int `json:"StartIndex"`
}

type keyList struct {
	PageInfo pageInfo  `json:"PageInfo"`
	Items    []keyView `json:"Items"`
	Links    []Link    `json:"Links"`
}

type nameBody struct {
	Name string `json:"Name"`
}

func (m *Module) keyLinks(base, key string) []Link {
	href := base + "/accesskeys/" + url.PathEscape(key)
	return []Link{{Rel: "self", Href: href}, {Rel: "update", Href: href}, {Rel: "remove", Href: href}}
}

// caller returns the authenticated caller (set by BearerAuth.Require).
func caller(r *http.Request) Caller {
	c, _ := CallerFrom(r.Context())
	return c
}

// listKeys serves GET /accesskeys?startIndex=&pageSize=. Admins see every
// organisation's keys, others their own organisation's.
func (m *Module) listKeys(w http.ResponseWriter, r *http.Request) {
	c := caller(r)
	start, size, err := m.paging(r)
	if err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return
	}
	filter := core.CredentialFilter{OrgID: c.OrgID(), Kind: core.CredAccessKey}
	if c.AdminFor(core.ActAccessKeysRead) {
		filter.OrgID = ""
	}
	creds, total, err := m.svc.Store.ListCredentials(r.Context(), filter, core.Page{Offset: start, Limit: size})
	if err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return
	}
	base := m.baseURL(r)
	out := keyList{PageInfo: pageInfo{TotalCount: total, ItemsCount: len(creds), StartIndex: start}, Items: make([]keyView, 0, len(creds))}
	for _, cr := range creds {
		out.Items = append(out.Items, keyView{Name: cr.Name, Key: cr.Lookup, Links: m.keyLinks(base, cr.Lookup)})
	}
	out.Links = []Link{{Rel: "add", Href: base + "/accesskeys"}}
	page := func(rel string, from int) Link {
		return Link{Rel: rel, Href: base + "/accesskeys?startIndex=" + strconv.Itoa(from) + "&pageSize=" + strconv.Itoa(size)}
	}
	if start > 0 {
		out.Links = append(out.Links, page("prev", max(0, start-size)))
	}
	if start+len(creds) < total {
		out.Links = append(out.Links, page("next", start+len(creds)))
	}
	httpapi.WriteJSONType(w, http.StatusOK, httpapi.NegotiateVnd(r, "accesskeys", "accesskey"), out)
}

func (m *Module) paging(r *http.Request) (start, size int, err error) {
	start, size, reason := httpapi.Paging(r.URL.Query(), m.cfg.DefaultPageSize, m.cfg.MaxPageSize)
	if reason != "" {
		return 0, 0, errInvalidRequest(reason)
	}
	return start, size, nil
}

func validName(n string) error {
	if err := core.ValidName("Name", n); err != nil {
		return errInvalidRequest(core.ReasonOf(err))
	}
	return nil
}

func (m *Module) readName(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !httpapi.AcceptsVndBody(r, "accesskey", "accesskeys") {
		writeError(w, r, m.log, &Error{Status: http.StatusUnsupportedMediaType, Code: codeUnsupportedMediaType,
			Description: "Content-Type must be application/vnd.imgtec.accesskey+json or application/json"}, ctxResource, "")
		return "", false
	}
	var body nameBody
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return "", false
	}
	if err := validName(body.Name); err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return "", false
	}
	return strings.TrimSpace(body.Name), true
}

// createKey serves POST /accesskeys. An admin caller gets a key for a new
// organisation named Name; any other caller a new key in its organisation.
// The secret is in this response only.
func (m *Module) createKey(w http.ResponseWriter, r *http.Request) {
	c := caller(r)
	name, ok := m.readName(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	orgID := c.OrgID()
	if c.AdminFor(core.ActOrganisationsCreate) {
		if err := m.bearer.authorize(r, c, core.ActOrganisationsCreate, core.Target{}, "organisation "+name); err != nil {
			writeError(w, r, m.log, err, ctxResource, "")
			return
		}
		org, err := m.svc.CreateOrganisation(ctx, name)
		if err != nil {
			writeError(w, r, m.log, err, ctxResource, "")
			return
		}
		orgID = org.ID
	}
	key := core.RandomIdentifier(keyBytes)
	p, err := m.svc.CreatePrincipal(ctx, orgID, core.PrincipalUser, "accesskey-"+core.NewID())
	if err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return
	}
	cred, secret, err := m.svc.Credentials.Create(ctx, core.CredentialSpec{OrgID: orgID, PrincipalID: p.ID, Kind: core.CredAccessKey,
		Lookup: key, Name: name, Secret: core.RandomToken(keyBytes)})
	if err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return
	}
	if err := m.audit(ctx, r, core.AuditEvent{Action: core.AuditCreate, OrgID: orgID, PrincipalID: p.ID, Subject: cred.Lookup,
		Reason: "access key created by " + c.Token.PrincipalID}); err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return
	}
	base := m.baseURL(r)
	w.Header().Set("Location", base+"/accesskeys/"+url.PathEscape(cred.Lookup))
	httpapi.WriteJSONType(w, http.StatusCreated, httpapi.NegotiateVnd(r, "accesskey", "accesskeys"),
		keyView{Name: cred.Name, Key: cred.Lookup, Secret: secret, Links: []Link{{Rel: "self", Href: base + "/accesskeys/" + url.PathEscape(cred.Lookup)}}})
}

// authorizeObject checks that the caller may perform action on an object
// owned by (orgID, principalID). Every refusal is audited; one because the
// object is outside the caller's reach is answered as not found
// (core.NotFoundIfOutOfReach: its existence is not the caller's
// business), any other refusal 403.
func (m *Module) authorizeObject(r *http.Request, action core.Action, orgID, principalID, subject, notFound string) error {
	err := m.bearer.authorize(r, caller(r), action, core.Target{OrgID: orgID, PrincipalID: principalID}, subject)
	return core.NotFoundIfOutOfReach(err, core.E(core.KindNotFound, notFound))
}

// findKey returns the active key named in the path if the caller may
// perform action on it.
func (m *Module) findKey(w http.ResponseWriter, r *http.Request, action core.Action) (core.Credential, bool) {
	key := r.PathValue("key")
	cred, err := m.svc.Store.FindCredential(r.Context(), core.CredAccessKey, key)
	if err == nil && cred.RevokedAt != nil {
		err = core.E(core.KindNotFound, "")
	}
	if err == nil {
		err = m.authorizeObject(r, action, cred.OrgID, cred.PrincipalID, "access key "+cred.Lookup, "no such access key")
	}
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			err = core.E(core.KindNotFound, "no such access key")
		}
		writeError(w, r, m.log, err, ctxResource, "")
		return core.Credential{}, false
	}
	return cred, true
}

// getKey serves GET /accesskeys/{key}.
func (m *Module) getKey(w http.ResponseWriter, r *http.Request) {
	cred, ok := m.findKey(w, r, core.ActAccessKeysRead)
	if !ok {
		return
	}
	httpapi.WriteJSONType(w, http.StatusOK, httpapi.NegotiateVnd(r, "accesskey", "accesskeys"),
		keyView{Name: cred.Name, Key: cred.Lookup, Links: m.keyLinks(m.baseURL(r), cred.Lookup)})
}

// renameKey serves PUT /accesskeys/{key} {"Name": ...}: 204.
func (m *Module) renameKey(w http.ResponseWriter, r *http.Request) {
	cred, ok := m.findKey(w, r, core.ActAccessKeysUpdate)
	if !ok {
		return
	}
	name, ok := m.readName(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if err := m.svc.Store.RenameCredential(ctx, cred.ID, name); err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return
	}
	if err := m.audit(ctx, r, core.AuditEvent{Action: core.AuditUpdate, OrgID: cred.OrgID, PrincipalID: cred.PrincipalID, Subject: cred.Lookup,
		Reason: "access key renamed by " + caller(r).Token.PrincipalID}); err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deleteKey serves DELETE /accesskeys/{key}: the key stops working and
// every token obtained with it is revoked. Admin keys are managed with the
// admin CLI, not here, so an API call cannot lock the operator out.
func (m *Module) deleteKey(w http.ResponseWriter, r *http.Request) {
	cred, ok := m.findKey(w, r, core.ActAccessKeysDelete)
	if !ok {
		return
	}
	ctx := r.Context()
	p, err := m.svc.Store.GetPrincipal(ctx, cred.PrincipalID)
	if err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return
	}
	if p.Kind == core.PrincipalAdmin {
		writeError(w, r, m.log, core.E(core.KindForbidden, "admin keys cannot be deleted through the API"), ctxResource, "")
		return
	}
	if err := m.svc.Store.RevokeCredential(ctx, cred.ID, m.svc.Clock.Now()); err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return
	}
	n, err := m.svc.Tokens.RevokePrincipal(ctx, p.ID)
	if err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return
	}
	if err := m.audit(ctx, r, core.AuditEvent{Action: core.AuditDelete, OrgID: cred.OrgID, PrincipalID: p.ID, Subject: cred.Lookup,
		Reason: "access key deleted by " + caller(r).Token.PrincipalID + "; " + strconv.Itoa(n) + " tokens revoked"}); err != nil {
		writeError(w, r, m.log, err, ctxResource, "")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
