package taap

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// CollectionSIMs holds the demo connectivity resource's SIM records, keyed by ICCID.
const CollectionSIMs = "taap.sims"

// SIM is a SIM record served by GET /iot-connectivity/v1/devices/{ICCID}.
type SIM struct {
	ICCID     string    `json:"iccid"`
	IMSI      string    `json:"imsi,omitempty"`
	MSISDN    string    `json:"msisdn,omitempty"`
	Status    string    `json:"status"`
	Label     string    `json:"label,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// SIM statuses.
var simStatuses = []string{"active", "inactive", "suspended", "deactivated"}

// ValidICCID checks an ICCID (ITU-T E.118): 19 or 20 digits, starting with
// the telecom industry identifier 89, ending in a Luhn check digit.
func ValidICCID(s string) error {
	if len(s) < 19 || len(s) > 20 {
		return core.E(core.KindInvalidInput, "ICCID must be 19 or 20 digits")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return core.E(core.KindInvalidInput, "ICCID must be 19 or 20 digits")
		}
	}
	if !strings.HasPrefix(s, "89") {
		return core.E(core.KindInvalidInput, "ICCID must start with 89 (telecom industry identifier)")
	}
	if !luhn(s) {
		return core.E(core.KindInvalidInput, "ICCID check digit is wrong (Luhn)")
	}
	return nil
}

// luhn reports whether the last digit of s is the Luhn check digit of the rest.
func luhn(s string) bool {
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// LuhnDigit returns the check digit that completes digits.
func LuhnDigit(digits string) byte {
	for d := byte('0'); d <= '9'; d++ {
		if luhn(digits + string(d)) {
			return d
		}
	}
	return '0' // unreachable: one digit always completes the sum
}

func allDigits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// AddSIM stores a SIM record for an organisation.
func AddSIM(ctx context.Context, svc core.Services, orgID string, s SIM) (SIM, error) {
	if err := ValidICCID(s.ICCID); err != nil {
		return SIM{}, err
	}
	if s.IMSI != "" && !allDigits(s.IMSI, 6, 15) {
		return SIM{}, core.E(core.KindInvalidInput, "IMSI must be 6 to 15 digits")
	}
	if s.MSISDN != "" && !allDigits(strings.TrimPrefix(s.MSISDN, "+"), 6, 15) {
		return SIM{}, core.E(core.KindInvalidInput, "MSISDN must be 6 to 15 digits, optionally after +")
	}
	if s.Status == "" {
		s.Status = "active"
	}
	ok := false
	for _, st := range simStatuses {
		ok = ok || s.Status == st
	}
	if !ok {
		return SIM{}, core.E(core.KindInvalidInput, "status must be one of "+strings.Join(simStatuses, ", "))
	}
	if len(s.Label) > 200 {
		return SIM{}, core.E(core.KindInvalidInput, "label is longer than 200 characters")
	}
	if _, err := svc.Store.GetOrganisation(ctx, orgID); err != nil {
		return SIM{}, err
	}
	s.CreatedAt = svc.Clock.Now().UTC().Truncate(time.Second)
	data, err := json.Marshal(s)
	if err != nil {
		return SIM{}, err
	}
	if err := svc.Store.PutDocument(ctx, core.Document{Collection: CollectionSIMs, ID: s.ICCID, OrgID: orgID, Data: data, CreatedAt: s.CreatedAt}); err != nil {
		if core.KindOf(err) == core.KindConflict {
			return SIM{}, core.E(core.KindConflict, "a SIM with this ICCID exists")
		}
		return SIM{}, err
	}
	return s, nil
}

// ProvisionDemo registers a client with one RSA public key (SPKI PEM or
// JWK) and gives its organisation one SIM with a random valid ICCID, for
// demos and load tests (authgate bench): afterwards the client can call
// the token endpoint and GET /iot-connectivity/v1/devices/{iccid}.
func ProvisionDemo(ctx context.Context, svc core.Services, name string, publicKey []byte) (ClientInfo, string, error) {
	info, err := CreateClient(ctx, svc, ClientSpec{Name: name, PublicKeys: [][]byte{publicKey}, Scope: "iot-connectivity"})
	if err != nil {
		return ClientInfo{}, "", err
	}
	var digits strings.Builder
	digits.WriteString("89")
	for _, b := range []byte(core.NewID()[:17]) { // 17 random hex digits mapped to decimal
		digits.WriteByte('0' + b%10)
	}
	iccid := digits.String()
	iccid += string(LuhnDigit(iccid))
	if _, err := AddSIM(ctx, svc, info.OrgID, SIM{ICCID: iccid, Label: "demo"}); err != nil {
		return ClientInfo{}, "", err
	}
	return info, iccid, nil
}
