package m2m

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/wssec"
)

// PartnerHandler serves M2MAdmCl and M2MMonCl: it verifies the platform's
// signed notification, refuses replays, calls the matching callback and
// answers with a signed acknowledgment.
type PartnerHandler struct {
	Signer   *wssec.Signer
	Verifier *wssec.Verifier
	// OnAdmResponse receives completed M2MAdm requests.
	OnAdmResponse func(ctx context.Context, r M2MAdmResponse) M2MAdmResponseMessage
	// OnNetworkState receives network-state changes.
	OnNetworkState func(ctx context.Context, n SIMNetworkStateChange) M2MMonResponseMessage
	// MaxBytes bounds notifications (default 256 KiB).
	MaxBytes int64

	mu   sync.Mutex
	seen map[string]time.Time // signature value -> expiry
}

func (h *PartnerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.faultStatus(w, http.StatusMethodNotAllowed, "soap:Client", "POST a signed SOAP message", ErrUnknownOperation)
		return
	}
	limit := h.MaxBytes
	if limit <= 0 {
		limit = 256 << 10
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err == nil && int64(len(raw)) > limit {
		w.Header().Set("Connection", "close")
		h.faultStatus(w, http.StatusRequestEntityTooLarge, "soap:Client", "request body larger than "+strconv.FormatInt(limit, 10)+" bytes", ErrMessageTooLarge)
		return
	}
	if err != nil {
		h.fault(w, "soap:Client", "unreadable request", "", false)
		return
	}
	v, err := h.Verifier.Verify(raw)
	if err != nil {
		code, reason := "wsse:InvalidSecurity", "message rejected"
		if we, ok := err.(*wssec.Error); ok {
			code, reason = "wsse:"+string(we.Code), we.Reason
		}
		h.fault(w, code, reason, "", false)
		return
	}
	if !h.remember(base64.RawStdEncoding.EncodeToString(v.SignatureValue), v.Expires) {
		h.fault(w, "soap:Client", "message replayed", ErrReplayed, true)
		return
	}
	name, err := PayloadName(v.BodyC14N)
	if err != nil || name.Space != Namespace {
		h.fault(w, "soap:Client", "no M2M notification in the Body", ErrUnknownOperation, true)
		return
	}
	var answer any
	switch {
	case name.Local == OpM2MAdmResponse && h.OnAdmResponse != nil:
		var m M2MAdmResponse
		if err := DecodePayload(v.BodyC14N, &m); err != nil {
			h.fault(w, "soap:Client", "malformed M2MAdmResponse", ErrInvalidRequest, true)
			return
		}
		answer = h.OnAdmResponse(r.Context(), m)
	case name.Local == OpSIMNetworkState && h.OnNetworkState != nil:
		var m SIMNetworkStateChange
		if err := DecodePayload(v.BodyC14N, &m); err != nil {
			h.fault(w, "soap:Client", "malformed SIMNetworkStateChange", ErrInvalidRequest, true)
			return
		}
		answer = h.OnNetworkState(r.Context(), m)
	default:
		h.fault(w, "soap:Client", "operation "+name.Local+" is not served here", ErrUnknownOperation, true)
		return
	}
	payload, err := xml.Marshal(answer)
	if err == nil {
		payload, err = h.Signer.Sign(payload)
	}
	if err != nil {
		h.fault(w, "soap:Server", "internal error", ErrInternal, false)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write(payload)
}

// faultStatus answers a refusal made before the message is read as SOAP
// with an unsigned Fault and the refusal's own HTTP status.
func (h *PartnerHandler) faultStatus(w http.ResponseWriter, status int, code, reason, detail string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(UnsignedEnvelope(FaultPayload(code, reason, detail)))
}

func (h *PartnerHandler) fault(w http.ResponseWriter, code, reason, detail string, sign bool) {
	payload := FaultPayload(code, reason, detail)
	var out []byte
	if sign {
		out, _ = h.Signer.Sign(payload)
	}
	if out == nil {
		out = UnsignedEnvelope(payload)
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(out)
}

// remember records a signature until it expires and reports whether it
// was new. The set is pruned as it is used.
func (h *PartnerHandler) remember(sig string, expires time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if h.seen == nil {
		h.seen = map[string]time.Time{}
	}
	for k, exp := range h.seen {
		if now.After(exp.Add(10 * time.Minute)) {
			delete(h.seen, k)
		}
	}
	if _, dup := h.seen[sig]; dup {
		return false
	}
	h.seen[sig] = expires
	return true
}
