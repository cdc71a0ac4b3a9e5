package m2m_test

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/authgate/authgate/internal/protocol/m2m"
	"github.com/authgate/authgate/internal/wssec/wssectest"
	sdk "github.com/authgate/authgate/sdk/m2m"
)

// TestPartnerIdentifiersChecked: the API sender identifier (SOA-BP sender
// ID, item K) and the M2M partner identifier of the setup data exchange,
// when a request's signed Body carries them (SenderId, PartnerId), must be
// the authenticated partner's; a mismatch, another partner's identifier,
// or any identifier for a partner that has none configured is a
// soap:Client Fault IdentifierMismatch. Requests without them still pass.
func TestPartnerIdentifiersChecked(t *testing.T) {
	w := newWorld(t, worldOptions{material: func(w *world, m *m2m.Material) {
		m.Partners[0].SenderID, m.Partners[0].PartnerID = "ACME-TA-0001", "4711"
		other, _ := w.ca.Issue(t, wssectest.Leaf{CN: "ta.other.org", OU: "M2M_TA", Slot: 20, Now: w.now})
		m.Partners = append(m.Partners, m2m.Partner{Name: "other", SigningCerts: []*x509.Certificate{other}, SenderID: "OTHER-TA-0002", PartnerID: "4712"})
	}})
	bare := newWorld(t, worldOptions{}) // acme without identifiers
	for _, tc := range []struct {
		name string
		w    *world
		ids  sdk.Identifiers
		ok   bool
	}{
		{"both match", w, sdk.Identifiers{SenderID: "ACME-TA-0001", PartnerID: "4711"}, true},
		{"sender id alone", w, sdk.Identifiers{SenderID: "ACME-TA-0001"}, true},
		{"none carried", w, sdk.Identifiers{}, true},
		{"wrong sender id", w, sdk.Identifiers{SenderID: "ACME-TA-0009", PartnerID: "4711"}, false},
		{"wrong partner id", w, sdk.Identifiers{SenderID: "ACME-TA-0001", PartnerID: "4799"}, false},
		{"another partner's identifiers", w, sdk.Identifiers{SenderID: "OTHER-TA-0002", PartnerID: "4712"}, false},
		{"sender id for a partner with none", bare, sdk.Identifiers{SenderID: "ACME-TA-0001"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := *tc.w.client
			c.Identifiers = tc.ids
			u, err := c.SIMUsageGet(context.Background(), iccid)
			if tc.ok {
				if err != nil || u.ICCID != iccid {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var f *sdk.Fault
			if !errors.As(err, &f) || f.Code != sdk.FaultClient || f.Detail != sdk.ErrIdentifierMismatch {
				t.Fatalf("want a soap:Client IdentifierMismatch fault, got %v", err)
			}
		})
	}
}
