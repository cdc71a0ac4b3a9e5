package taap

import (
	"net/http"

	"github.com/authgate/authgate/internal/core"
)

// device is GET /iot-connectivity/v1/devices/{ICCID}, TAAP step 4's demo
// resource. RequirePoP has authenticated the caller; a SIM of another
// organisation answers 404 like an unknown one.
func (m *Module) device(w http.ResponseWriter, r *http.Request) {
	c, _ := CallerFrom(r.Context())
	if m.d.Access != nil {
		a := core.Access{OrgID: c.Token.OrgID, PrincipalID: c.Token.PrincipalID, Method: r.Method, Path: r.URL.Path, Scheme: "pop", Scope: c.Token.Scope,
			Kind: core.PrincipalApplication}
		if err := m.d.Access.Allow(r.Context(), a); err != nil {
			m.writeError(w, r, err, ctxOther)
			return
		}
	}
	iccid := r.PathValue("iccid")
	if err := ValidICCID(iccid); err != nil {
		m.writeError(w, r, err, ctxOther)
		return
	}
	d, err := m.d.Docs.GetDocument(r.Context(), CollectionSIMs, iccid)
	if err == nil && d.OrgID != c.Token.OrgID {
		err = core.E(core.KindNotFound, "")
	}
	if err != nil {
		if core.KindOf(err) == core.KindNotFound {
			err = core.E(core.KindNotFound, "no device with ICCID "+iccid)
		}
		m.writeError(w, r, err, ctxOther)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(d.Data, '\n'))
}
