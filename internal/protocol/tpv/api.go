package tpv

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/httpapi"
)

// auditReject is the audit action of a request refused after
// authentication (validation failures, unknown codes).
const auditReject = "reject"

// storedRecord is the data of a "tpv.records" document.
type storedRecord struct {
	ConfirmationCode string      `json:"confirmation_code"`
	BrandID          string      `json:"brand_id"`
	Signed           bool        `json:"signed"`
	CreatedAt        time.Time   `json:"created_at"`
	Record           SalesRecord `json:"record"`
	Digital          *followUp   `json:"digital,omitempty"`
	Call             *followUp   `json:"call,omitempty"`
}

// followUp records requests for a digital delivery or a verification call.
// Delivering the contract and placing the call are the TPV vendor's back
// office; authgate records the request durably for it.
type followUp struct {
	Status        string    `json:"status"`
	Requests      int       `json:"requests"`
	FirstAt       time.Time `json:"first_requested_at"`
	LastAt        time.Time `json:"last_requested_at"`
	LastRequester string    `json:"last_requested_by"`
}

// storedProduct is the data of a "tpv.products" document.
type storedProduct struct {
	ProgramCode string    `json:"program_code"`
	Name        string    `json:"name"`
	CreatedAt   time.Time `json:"created_at"`
}

// productID scopes program codes to the brand's organisation.
func productID(orgID, code string) string { return orgID + "/" + code }

func requireJSON(r *http.Request) error {
	if httpapi.MediaType(r) != "application/json" {
		return &transportError{http.StatusUnsupportedMediaType, "Content-Type must be application/json"}
	}
	return nil
}

// reject audits a refused request and passes the error on.
func (m *Module) reject(r *http.Request, b *brand, subject string, err error) error {
	m.auditFailure(r, m.d.ClientAddr.IP(r), auditReject, b, subject, err)
	return err
}

// submitTPV is POST /api/v1/tpv.
func (m *Module) submitTPV(w http.ResponseWriter, r *http.Request, b *brand, body []byte) error {
	if err := requireJSON(r); err != nil {
		return m.reject(r, b, RouteTPV, err)
	}
	rec, err := ParseSalesRecord(body)
	if err != nil {
		return m.reject(r, b, RouteTPV, err)
	}
	ctx := r.Context()
	for i, p := range rec.Products {
		if _, err := m.d.Docs.GetDocument(ctx, CollectionProducts, productID(b.OrgID, p.ProgramCode)); err != nil {
			if core.KindOf(err) == core.KindNotFound {
				err = core.E(core.KindInvalidInput, "products["+strconv.Itoa(i)+"].program_code must be the program code of one of the brand's products.")
				return m.reject(r, b, RouteTPV, err)
			}
			return err
		}
	}
	now := m.d.Clock.Now()
	sr := storedRecord{BrandID: b.PrincipalID, Signed: b.Signed, CreatedAt: now, Record: rec}
	code, err := m.putRecord(ctx, b.OrgID, sr)
	if err != nil {
		return err
	}
	if err := m.audit(r, core.AuditEvent{Action: core.AuditCreate, OrgID: b.OrgID, PrincipalID: b.PrincipalID, Subject: "tpv " + code}); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"success": code})
	return nil
}

// putRecord stores a record under a fresh confirmation code, drawing again
// on the (rare) collision with an existing one.
func (m *Module) putRecord(ctx context.Context, orgID string, sr storedRecord) (string, error) {
	for range 5 {
		code, err := newConfirmationCode()
		if err != nil {
			return "", core.Wrap(core.KindInternal, "", err)
		}
		sr.ConfirmationCode = code
		data, err := json.Marshal(sr)
		if err != nil {
			return "", core.Wrap(core.KindInternal, "", err)
		}
		err = m.d.Docs.PutDocument(ctx, core.Document{Collection: CollectionRecords, ID: code, OrgID: orgID, Data: data, CreatedAt: sr.CreatedAt, UpdatedAt: sr.CreatedAt})
		if core.KindOf(err) == core.KindConflict {
			continue
		}
		return code, err
	}
	return "", core.E(core.KindInternal, "no free confirmation code")
}

// confirmationSpace is 10^11: codes are 11 decimal digits, zero-padded.
var confirmationSpace = big.NewInt(100_000_000_000)

// newConfirmationCode draws a uniformly random 11-digit code.
func newConfirmationCode() (string, error) {
	n, err := rand.Int(rand.Reader, confirmationSpace)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%011d", n), nil
}

// validConfirmationCode reports whether s has the shape of a code.
func validConfirmationCode(s string) bool {
	if len(s) != 11 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// record loads the brand's record with the code in the path. Codes of
// other organisations are reported exactly like unknown ones.
func (m *Module) record(r *http.Request, b *brand) (core.Document, storedRecord, error) {
	code := r.PathValue("code")
	notFound := core.E(core.KindNotFound, "confirmation code not found")
	if !validConfirmationCode(code) {
		return core.Document{}, storedRecord{}, m.reject(r, b, "tpv "+printable(code), notFound)
	}
	doc, err := m.d.Docs.GetDocument(r.Context(), CollectionRecords, code)
	if core.KindOf(err) == core.KindNotFound || err == nil && doc.OrgID != b.OrgID {
		return core.Document{}, storedRecord{}, m.reject(r, b, "tpv "+code, notFound)
	}
	if err != nil {
		return core.Document{}, storedRecord{}, err
	}
	var sr storedRecord
	if err := json.Unmarshal(doc.Data, &sr); err != nil {
		return core.Document{}, storedRecord{}, core.Wrap(core.KindInternal, "", err)
	}
	return doc, sr, nil
}

// followUpRequest records one more request of a follow-up on the record
// named in the path, retrying on concurrent updates.
func (m *Module) followUpRequest(r *http.Request, b *brand, pick func(*storedRecord) **followUp, status string) (storedRecord, error) {
	for range 5 {
		doc, sr, err := m.record(r, b)
		if err != nil {
			return storedRecord{}, err
		}
		now := m.d.Clock.Now()
		f := pick(&sr)
		if *f == nil {
			*f = &followUp{FirstAt: now}
		}
		(*f).Status, (*f).LastAt, (*f).LastRequester = status, now, b.PrincipalID
		(*f).Requests++
		if doc.Data, err = json.Marshal(sr); err != nil {
			return storedRecord{}, core.Wrap(core.KindInternal, "", err)
		}
		doc.UpdatedAt = now
		if _, err = m.d.Docs.UpdateDocument(r.Context(), doc); core.KindOf(err) == core.KindConflict {
			continue
		}
		return sr, err
	}
	return storedRecord{}, core.E(core.KindConflict, "record is being updated, retry")
}

// digitalSend is GET/POST /api/v1/digital/send/{code}.
func (m *Module) digitalSend(w http.ResponseWriter, r *http.Request, b *brand, _ []byte) error {
	sr, err := m.followUpRequest(r, b, func(s *storedRecord) **followUp { return &s.Digital }, "requested")
	if err != nil {
		return err
	}
	if err := m.audit(r, core.AuditEvent{Action: core.AuditUpdate, OrgID: b.OrgID, PrincipalID: b.PrincipalID, Subject: "tpv " + sr.ConfirmationCode, Reason: "digital delivery requested"}); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{
		"success": "Digital delivery by " + sr.Record.DigitalDelivery + " requested for " + sr.ConfirmationCode + ".",
	})
	return nil
}

// queueCall is GET/POST /api/v1/queue/call/{code}.
func (m *Module) queueCall(w http.ResponseWriter, r *http.Request, b *brand, _ []byte) error {
	sr, err := m.followUpRequest(r, b, func(s *storedRecord) **followUp { return &s.Call }, "queued")
	if err != nil {
		return err
	}
	if err := m.audit(r, core.AuditEvent{Action: core.AuditUpdate, OrgID: b.OrgID, PrincipalID: b.PrincipalID, Subject: "tpv " + sr.ConfirmationCode, Reason: "call queued"}); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"success": "Call queued for " + sr.ConfirmationCode + "."})
	return nil
}

// listProducts is GET /api/v1/products: {"success": [product...]}.
func (m *Module) listProducts(w http.ResponseWriter, r *http.Request, b *brand, _ []byte) error {
	docs, _, err := m.d.Docs.ListDocuments(r.Context(), CollectionProducts, b.OrgID, core.Page{Limit: 1000})
	if err != nil {
		return err
	}
	out := make([]storedProduct, 0, len(docs))
	for _, d := range docs {
		var p storedProduct
		if err := json.Unmarshal(d.Data, &p); err != nil {
			return core.Wrap(core.KindInternal, "", err)
		}
		out = append(out, p)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": out})
	return nil
}

// parseProduct validates the body of POST /api/v1/products:
// {"program_code": "555", "name": "Fixed rate 12 months"}.
func parseProduct(body []byte) (storedProduct, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return storedProduct{}, err
	}
	errs := &fieldErrors{}
	v := validator{obj: obj, errs: errs}
	v.unknownFields([]string{"program_code", "name"})
	p := storedProduct{ProgramCode: v.programCode("program_code"), Name: v.text("name", maxText)}
	if err := errs.err(); err != nil {
		return storedProduct{}, err
	}
	return p, nil
}

// productPutter is the part of the document store putProduct needs.
type productPutter interface {
	PutDocument(ctx context.Context, d core.Document) error
}

// putProduct stores a program code for an organisation; KindConflict if
// the organisation already has it.
func putProduct(ctx context.Context, docs productPutter, orgID, code, name string, now time.Time) (storedProduct, error) {
	p := storedProduct{ProgramCode: code, Name: name, CreatedAt: now}
	if !ValidProgramCode(code) || name == "" {
		return p, core.E(core.KindInvalidInput, "program_code and name must be given")
	}
	if err := core.ValidName("name", name); err != nil {
		return p, err
	}
	data, err := json.Marshal(p)
	if err != nil {
		return p, core.Wrap(core.KindInternal, "", err)
	}
	err = docs.PutDocument(ctx, core.Document{Collection: CollectionProducts, ID: productID(orgID, code), OrgID: orgID, Data: data, CreatedAt: now, UpdatedAt: now})
	if core.KindOf(err) == core.KindConflict {
		return p, core.E(core.KindConflict, "program_code must be unique: "+code+" already exists.")
	}
	return p, err
}

// createProduct is POST /api/v1/products.
func (m *Module) createProduct(w http.ResponseWriter, r *http.Request, b *brand, body []byte) error {
	if err := requireJSON(r); err != nil {
		return m.reject(r, b, RouteProducts, err)
	}
	p, err := parseProduct(body)
	if err != nil {
		return m.reject(r, b, RouteProducts, err)
	}
	p, err = putProduct(r.Context(), m.d.Docs, b.OrgID, p.ProgramCode, p.Name, m.d.Clock.Now())
	if core.KindOf(err) == core.KindConflict {
		return m.reject(r, b, "product "+p.ProgramCode, err)
	}
	if err != nil {
		return err
	}
	if err := m.audit(r, core.AuditEvent{Action: core.AuditCreate, OrgID: b.OrgID, PrincipalID: b.PrincipalID, Subject: "product " + p.ProgramCode}); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"success": p})
	return nil
}

// testAPI is GET/POST /api/v1/test/api: it echoes who the caller is and
// the parameters it sent, so integrators can check their signing.
func (m *Module) testAPI(w http.ResponseWriter, r *http.Request, b *brand, body []byte) error {
	pairs, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	params := map[string]any{}
	for _, p := range pairs {
		switch cur := params[p.name].(type) {
		case nil:
			params[p.name] = p.value
		case string:
			params[p.name] = []string{cur, p.value}
		case []string:
			params[p.name] = append(cur, p.value)
		}
	}
	out := map[string]any{
		"success":    "authenticated",
		"brand":      map[string]string{"id": b.PrincipalID, "name": b.Name, "organisation": b.OrgID},
		"signed":     b.Signed,
		"method":     r.Method,
		"parameters": params,
	}
	if len(body) > 0 && httpapi.MediaType(r) == "application/json" {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return core.E(core.KindInvalidInput, "body must be valid JSON.")
		}
		out["body"] = v
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}
