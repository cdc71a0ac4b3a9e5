package m2m

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
	"github.com/authgate/authgate/internal/wssec"
	"github.com/authgate/authgate/sdk/m2m"
)

// Service paths on each environment's listener.
const (
	PathAdm = "/M2MAdm"
	PathMon = "/M2MMon"
)

// Register mounts the environment's services: POST for SOAP calls, GET
// with ?wsdl for their WSDLs (and /wsdl/<file> for all four, including
// the partner-side M2MAdmCl and M2MMonCl).
func (e *Env) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathAdm, e.handle(serviceAdm))
	mux.HandleFunc("POST "+PathMon, e.handle(serviceMon))
	mux.HandleFunc("GET "+PathAdm, e.serveWSDL("M2MAdmv30.wsdl"))
	mux.HandleFunc("GET "+PathMon, e.serveWSDL("M2MMonv30.wsdl"))
	mux.HandleFunc("GET /wsdl/{file}", func(w http.ResponseWriter, r *http.Request) {
		e.serveWSDL(r.PathValue("file"))(w, r)
	})
}

type service int

const (
	serviceAdm service = iota
	serviceMon
)

// faultError carries an M2M error code to the edge with its core error.
type faultError struct {
	code string
	err  *core.Error
}

func (f *faultError) Error() string { return f.code + ": " + f.err.Error() }
func (f *faultError) Unwrap() error { return f.err }

func m2mErr(code string, kind core.Kind, reason string) error {
	return &faultError{code: code, err: core.E(kind, reason)}
}

// faultOf maps an error to a SOAP fault, once, at the edge: WS-Security
// failures keep their wsse: code; M2M errors their detail code; other core
// errors by kind.
func faultOf(err error) (code, reason, detail string, security bool) {
	var we *wssec.Error
	if errors.As(err, &we) {
		return "wsse:" + string(we.Code), we.Reason, "", true
	}
	var fe *faultError
	if errors.As(err, &fe) {
		code := m2m.FaultClient
		if fe.err.Kind == core.KindInternal || fe.err.Kind == core.KindUnavailable {
			code = m2m.FaultServer
		}
		return code, fe.err.Reason, fe.code, false
	}
	if core.RetryAfterOf(err) > 0 {
		// API subscription limits: the partner's own doing, with a retry hint.
		switch core.KindOf(err) {
		case core.KindRateLimited:
			return m2m.FaultClient, core.ReasonOf(err), errRateLimited, false
		case core.KindQuotaExceeded:
			return m2m.FaultClient, core.ReasonOf(err), errQuotaExceeded, false
		}
	}
	switch core.KindOf(err) {
	case core.KindInvalidInput:
		return m2m.FaultClient, core.ReasonOf(err), m2m.ErrInvalidRequest, false
	case core.KindNotFound:
		return m2m.FaultClient, "unknown ICCID", m2m.ErrUnknownICCID, false
	case core.KindConflict:
		return m2m.FaultClient, core.ReasonOf(err), m2m.ErrInvalidSIMState, false
	case core.KindForbidden:
		return m2m.FaultClient, core.ReasonOf(err), m2m.ErrNotAuthorized, false
	case core.KindUnauthenticated, core.KindExpired, core.KindRevoked:
		return m2m.FaultClient, "invalid M2MApiKey", m2m.ErrInvalidAPIKey, false
	case core.KindReplayed:
		return m2m.FaultClient, "message replayed", m2m.ErrReplayed, false
	case core.KindUnavailable, core.KindRateLimited:
		return m2m.FaultServer, "service temporarily unavailable", m2m.ErrUnavailable, false
	}
	return m2m.FaultServer, "internal error", m2m.ErrInternal, false
}

// Fault detail codes of API subscription limits.
const (
	errRateLimited   = "RateLimitExceeded"
	errQuotaExceeded = "QuotaExceeded"
)

// call is one authenticated request.
type call struct {
	partner *partner
	op      string
	payload []byte // canonical Body bytes
}

func (e *Env) handle(svc service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if mt := httpapi.MediaType(r); mt != "text/xml" {
			e.refuse(w, r, http.StatusUnsupportedMediaType, core.E(core.KindInvalidInput, "Content-Type must be text/xml (SOAP 1.1)"))
			return
		}
		raw, err := httpapi.ReadBody(w, r, int64(e.cfg.MaxMessageBytes))
		if err != nil {
			var ce *core.Error
			errors.As(err, &ce)
			st, _ := httpapi.BodyStatus(err)
			e.refuse(w, r, st, ce)
			return
		}
		c, err := e.authenticate(ctx, r, raw)
		if err != nil {
			e.fault(ctx, w, r, err, false)
			return
		}
		if e.d.Access != nil {
			// Resources name operations as <service path>/<operation>.
			a := core.Access{OrgID: c.partner.OrgID, PrincipalID: c.partner.PrincipalID, Method: r.Method, Path: r.URL.Path + "/" + c.op, Scheme: "wss",
				Kind: core.PrincipalPartner}
			if err := e.d.Access.Allow(ctx, a); err != nil {
				e.fault(ctx, w, r, err, true)
				return
			}
		}
		resp, err := e.dispatch(ctx, svc, c)
		if err != nil {
			// Failures after authentication are answered signed, like every response.
			e.fault(ctx, w, r, err, true)
			return
		}
		out, err := xml.Marshal(resp)
		if err == nil {
			out, err = e.signer.Sign(out)
		}
		if err != nil {
			e.fault(ctx, w, r, core.Wrap(core.KindInternal, "", err), false)
			return
		}
		writeSOAP(w, http.StatusOK, out)
	}
}

func writeSOAP(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// fault answers with a SOAP Fault: HTTP 500, as SOAP 1.1 over HTTP
// requires, or 503 with Retry-After while a dependency is down (the one
// answer of every family to that: httpapi.Unavailable). Faults about the
// message's own security are sent unsigned: signing answers to
// unauthenticated senders would let anyone spend the platform's signing
// capacity.
func (e *Env) fault(ctx context.Context, w http.ResponseWriter, r *http.Request, err error, sign bool) {
	code, reason, detail, security := faultOf(err)
	if code == m2m.FaultServer {
		e.d.Log.LogAttrs(ctx, slog.LevelError, "m2m request failed", slog.String("env", e.Name), slog.Any("err", err))
	}
	payload := m2m.FaultPayload(code, reason, detail)
	var out []byte
	if sign && !security {
		if signed, serr := e.signer.Sign(payload); serr == nil {
			out = signed
		}
	}
	if out == nil {
		out = m2m.UnsignedEnvelope(payload)
	}
	status := http.StatusInternalServerError
	if st, ok := httpapi.Unavailable(err); ok {
		status = st // a soap:Server Fault all the same; 503 tells HTTP clients to come back
	}
	httpapi.SetRetryAfter(w, err)
	writeSOAP(w, status, out)
}

// Handler is the environment's listener handler: the standard chain with
// every refusal of the chain itself (body over the limit, unknown path or
// method, overload, panic) answered as a SOAP Fault.
func (e *Env) Handler(o httpapi.Options) *httpapi.Handler {
	o.Errors = e.refuse
	return httpapi.NewHandler(o, e)
}

// refuse answers a request refused before it was authenticated, by the
// handler chain or by the framing checks of handle, as an unsigned SOAP 1.1
// Fault (soap:Client for 4xx, soap:Server for 5xx) that keeps the status
// the refusal chose (413, 404, 405, 408, 415, 503 with Retry-After, 500):
// SOAP clients (node-soap, zeep, JAX-WS, WCF) read a Fault body on any
// status, and the status still tells proxies and plain HTTP tools what
// happened.
func (e *Env) refuse(w http.ResponseWriter, r *http.Request, status int, err *core.Error) {
	code, detail := m2m.FaultClient, m2m.ErrInvalidRequest
	switch {
	case status == http.StatusRequestEntityTooLarge:
		detail = m2m.ErrMessageTooLarge
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		detail = m2m.ErrUnknownOperation
	case status == http.StatusServiceUnavailable:
		code, detail = m2m.FaultServer, m2m.ErrUnavailable
	case status >= 500:
		code, detail = m2m.FaultServer, m2m.ErrInternal
	}
	httpapi.SetRetryAfter(w, err)
	if status >= 500 && status != http.StatusServiceUnavailable {
		e.d.Log.LogAttrs(r.Context(), slog.LevelError, "m2m request refused", slog.String("env", e.Name), slog.Int("status", status), slog.Any("err", err))
	}
	writeSOAP(w, status, m2m.UnsignedEnvelope(m2m.FaultPayload(code, err.Reason, detail)))
}

// authenticate runs the WS-Security verifier, the replay cache, the
// M2MApiKey check and the partner-certificate binding, auditing every
// failure with its reason.
func (e *Env) authenticate(ctx context.Context, r *http.Request, raw []byte) (_ *call, err error) {
	if e.d.Tracer != nil {
		var span trace.Span
		ctx, span = e.d.Tracer.Start(ctx, "authenticate wss", trace.WithAttributes(attribute.String("authgate.environment", e.Name)))
		defer func() {
			if err != nil {
				span.SetStatus(codes.Error, core.KindOf(err).String())
			}
			span.End()
		}()
	}
	if e.d.Observer != nil {
		defer func() { e.d.Observer.AuthOutcome(protocol, "wss", err) }()
	}
	failure := func(err error, subject string) error {
		_, reason, _, _ := faultOf(err)
		_ = e.d.Audit.Record(ctx, core.AuditEvent{Action: core.AuditAuthFailure, Protocol: protocol, Outcome: core.OutcomeFailure,
			Subject: subject, Reason: e.Name + ": " + reason, RemoteAddr: e.d.ClientAddr.IP(r)})
		return err
	}
	v, err := e.verifier.VerifyContext(ctx, raw)
	if err != nil {
		if k := core.KindOf(err); k == core.KindUnavailable || k == core.KindInternal {
			return nil, err // the revocation check could not be made
		}
		return nil, failure(err, "")
	}
	subject := v.Certificate.Subject.CommonName
	// Under CA trust the environment is in the certificate: TA takes only
	// OU M2M_TA, PE only OU M2M, whatever the API key says.
	if !v.Pinned {
		if ou := v.Certificate.Subject.OrganizationalUnit; len(ou) != 1 || ou[0] != envOU(e.Name) {
			return nil, failure(m2mErr(m2m.ErrCertificateMismatch, core.KindForbidden,
				"the signing certificate is not an "+e.Name+" certificate (OU "+envOU(e.Name)+")"), subject)
		}
	}
	// Each signed message is accepted once, across all nodes, until its
	// Timestamp (plus skew) has expired.
	if err := e.d.Replay.Remember(ctx, "m2m."+e.Name, base64.RawStdEncoding.EncodeToString(v.SignatureValue), v.Expires.Add(e.cfg.ClockSkew)); err != nil {
		if core.KindOf(err) == core.KindReplayed {
			return nil, failure(m2mErr(m2m.ErrReplayed, core.KindReplayed, "message replayed"), subject)
		}
		return nil, err
	}
	name, err := m2m.PayloadName(v.BodyC14N)
	if err != nil || name.Space != m2m.Namespace {
		return nil, failure(m2mErr(m2m.ErrUnknownOperation, core.KindInvalidInput, "the Body holds no M2M operation"), subject)
	}
	var keyed struct {
		M2MApiKey string `xml:"M2MApiKey"`
		m2m.Identifiers
	}
	if err := m2m.DecodePayload(v.BodyC14N, &keyed); err != nil {
		return nil, failure(m2mErr(m2m.ErrInvalidRequest, core.KindInvalidInput, "malformed "+name.Local), subject)
	}
	if keyed.M2MApiKey == "" {
		return nil, failure(m2mErr(m2m.ErrMissingAPIKey, core.KindUnauthenticated, "M2MApiKey is required"), subject)
	}
	lookup, secret, ok := splitAPIKey(keyed.M2MApiKey)
	if !ok {
		return nil, failure(m2mErr(m2m.ErrInvalidAPIKey, core.KindUnauthenticated, "invalid M2MApiKey"), subject)
	}
	invalid := m2mErr(m2m.ErrInvalidAPIKey, core.KindUnauthenticated, "invalid M2MApiKey")
	var p *partner
	err = e.d.Guard.Verify(ctx, core.Attempt{Kind: core.CredAPIKey, Lookup: lookup, Addr: e.d.ClientAddr.IP(r), Family: protocol, Scheme: "wss"}, func() error {
		cred, err := e.d.Credentials.VerifySecret(ctx, core.CredAPIKey, lookup, secret)
		if err != nil {
			if core.IsGuess(err) {
				return invalid
			}
			return err
		}
		var meta APIKeyMeta
		_ = json.Unmarshal(cred.Meta, &meta)
		if p = e.partners[cred.PrincipalID]; meta.Env != e.Name || p == nil {
			// A TA key on PE (or the reverse) is as good as no key.
			return invalid
		}
		return nil
	})
	if err != nil {
		if k := core.KindOf(err); k == core.KindUnavailable || k == core.KindInternal {
			return nil, err
		}
		return nil, failure(err, lookup)
	}
	if !p.certificateBelongs(v.Certificate, v.Issuer, v.Pinned) {
		return nil, failure(m2mErr(m2m.ErrCertificateMismatch, core.KindForbidden, "the signing certificate is not registered for this partner"), lookup)
	}
	if lifetime := v.Expires.Sub(v.Created); lifetime > p.maxTTL {
		return nil, failure(&wssec.Error{Code: wssec.CodeInvalidSecurity,
			Reason: "timestamp lifetime exceeds " + p.maxTTL.String() + ", the longest accepted from this partner"}, lookup)
	}
	if err := p.checkIdentifiers(keyed.Identifiers); err != nil {
		return nil, failure(err, lookup)
	}
	return &call{partner: p, op: name.Local, payload: v.BodyC14N}, nil
}

// checkIdentifiers refuses a request whose SenderId or PartnerId, when it
// carries one, is not the partner's: the identifiers in a signed Body are
// the sender's claim of who it is, and must agree with the key and the
// certificate. A partner with no configured identifier accepts none.
func (p *partner) checkIdentifiers(ids m2m.Identifiers) error {
	for _, c := range []struct{ got, want, what string }{
		{strings.TrimSpace(ids.SenderID), p.SenderID, "SenderId is not this partner's API sender identifier (SOA-BP sender ID)"},
		{strings.TrimSpace(ids.PartnerID), p.PartnerID, "PartnerId is not this partner's M2M partner identifier"},
	} {
		if c.got != "" && c.got != c.want {
			return m2mErr(m2m.ErrIdentifierMismatch, core.KindForbidden, c.what)
		}
	}
	return nil
}

func (e *Env) dispatch(ctx context.Context, svc service, c *call) (any, error) {
	switch {
	case svc == serviceMon && c.op == m2m.OpSIMUsageGet:
		var req m2m.SIMUsageGet
		if err := m2m.DecodePayload(c.payload, &req); err != nil {
			return nil, m2mErr(m2m.ErrInvalidRequest, core.KindInvalidInput, "malformed SIMUsageGet")
		}
		s, err := e.partnerSIM(ctx, c.partner, req.ICCID)
		if err != nil {
			return nil, err
		}
		return m2m.SIMUsageResponse{ICCID: s.ICCID, State: s.State, PeriodStart: s.PeriodStart,
			DataVolume: s.DataVolume, SMSCount: s.SMSCount, VoiceSeconds: s.VoiceSeconds}, nil
	case svc == serviceMon && c.op == m2m.OpSIMStateGet:
		var req m2m.SIMStateGet
		if err := m2m.DecodePayload(c.payload, &req); err != nil {
			return nil, m2mErr(m2m.ErrInvalidRequest, core.KindInvalidInput, "malformed SIMStateGet")
		}
		s, err := e.partnerSIM(ctx, c.partner, req.ICCID)
		if err != nil {
			return nil, err
		}
		return m2m.SIMStateResponse{ICCID: s.ICCID, State: s.State, NetworkState: s.NetworkState, Tariff: s.Tariff, LastChange: s.LastChange}, nil
	case svc == serviceAdm && isAdmOperation(c.op):
		var req m2m.AdmRequest
		if err := m2m.DecodePayload(c.payload, &req); err != nil {
			return nil, m2mErr(m2m.ErrInvalidRequest, core.KindInvalidInput, "malformed "+c.op)
		}
		return e.acceptAdm(ctx, c.partner, c.op, req)
	}
	return nil, m2mErr(m2m.ErrUnknownOperation, core.KindInvalidInput, "operation "+c.op+" is not offered by this service")
}

func isAdmOperation(op string) bool {
	for _, o := range m2m.AdmOperations {
		if o == op {
			return true
		}
	}
	return false
}

// partnerSIM loads a SIM of this environment that belongs to p; a SIM of
// another partner is reported as unknown.
func (e *Env) partnerSIM(ctx context.Context, p *partner, iccid string) (SIM, error) {
	if !ValidICCID(iccid) {
		return SIM{}, m2mErr(m2m.ErrInvalidRequest, core.KindInvalidInput, "ICCID must be 19 or 20 digits starting with 89")
	}
	s, doc, err := loadSIM(ctx, e.d, e.Name, iccid)
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			return SIM{}, m2mErr(m2m.ErrUnknownICCID, core.KindNotFound, "unknown ICCID")
		}
		return SIM{}, err
	}
	if doc.OrgID != p.OrgID {
		return SIM{}, m2mErr(m2m.ErrUnknownICCID, core.KindNotFound, "unknown ICCID")
	}
	return s, nil
}

// admRequest is the CollectionRequests document of one M2MAdm request.
type admRequest struct {
	ID          string    `json:"id"`
	Env         string    `json:"env"`
	Partner     string    `json:"partner"`
	Operation   string    `json:"operation"`
	ICCID       string    `json:"iccid"`
	Tariff      string    `json:"tariff,omitempty"`
	Status      string    `json:"status"` // PENDING, OK, ERROR
	ResultCode  string    `json:"result_code,omitempty"`
	ResultText  string    `json:"result_text,omitempty"`
	State       string    `json:"state,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
}

// acceptAdm checks an M2MAdm request against the SIM's current state,
// records it and queues its execution; the caller gets a MessageResponse
// with the request id at once.
func (e *Env) acceptAdm(ctx context.Context, p *partner, op string, req m2m.AdmRequest) (any, error) {
	s, err := e.partnerSIM(ctx, p, req.ICCID)
	if err != nil {
		return nil, err
	}
	if op == m2m.OpSIMTariffChange && req.Tariff == "" {
		return nil, m2mErr(m2m.ErrInvalidRequest, core.KindInvalidInput, "SIMTariffChange needs a Tariff")
	}
	if req.Tariff != "" && !tariffRE.MatchString(req.Tariff) {
		return nil, m2mErr(m2m.ErrInvalidRequest, core.KindInvalidInput, "invalid Tariff")
	}
	if _, _, ok := transition(op, s.State); !ok {
		return nil, m2mErr(m2m.ErrInvalidSIMState, core.KindConflict, op+" is not possible in state "+s.State)
	}
	now := e.d.Clock.Now().UTC()
	rq := admRequest{ID: core.NewID(), Env: e.Name, Partner: p.Name, Operation: op, ICCID: req.ICCID, Tariff: req.Tariff, Status: "PENDING", CreatedAt: now}
	data, _ := json.Marshal(rq)
	if err := e.d.Docs.PutDocument(ctx, core.Document{Collection: CollectionRequests, ID: rq.ID, OrgID: p.OrgID, Data: data, CreatedAt: now, UpdatedAt: now}); err != nil {
		return nil, err
	}
	payload, _ := json.Marshal(jobPayload{Kind: jobAdm, RequestID: rq.ID})
	if err := e.d.Jobs.EnqueueJob(ctx, core.Job{ID: "adm-" + rq.ID, Queue: e.queue(), Payload: payload, RunAt: now, CreatedAt: now}); err != nil {
		return nil, err
	}
	if err := e.d.Audit.Record(ctx, core.AuditEvent{Action: core.AuditUpdate, Protocol: protocol, OrgID: p.OrgID, PrincipalID: p.PrincipalID,
		Subject: req.ICCID, Reason: e.Name + ": " + op + " accepted as " + rq.ID}); err != nil {
		return nil, err
	}
	return m2m.MessageResponse{RequestID: rq.ID, Operation: op, ICCID: req.ICCID, Status: "ACCEPTED"}, nil
}
