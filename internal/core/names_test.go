package core

import (
	"context"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for _, ok := range []string{"Acme Devices", "Schlüssel 鍵", "a", strings.Repeat("é", MaxNameLen), "  padded  ", "O'Brien & Söhne (Köln)"} {
		if err := ValidName("name", ok); err != nil {
			t.Errorf("ValidName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "   ", "a\x00b", "a\nb", "a\tb", "a\x7fb", "a\u0085b", "a\u202eb", "a\u202ab", "a\u2066b", "a\u2069b", "a\u200fb", "a\u061cb", "a\u2028b", "bad\xffutf8", strings.Repeat("n", MaxNameLen+1)} {
		if err := ValidName("name", bad); KindOf(err) != KindInvalidInput {
			t.Errorf("ValidName(%q) = %v, want invalid input", bad, err)
		}
	}
}

// Every adapter creates organisations and principals through Services,
// so the rule holds for TAAP clients, Apstrata users, devices and brands
// alike.
func TestServicesRefuseUnsafeNames(t *testing.T) {
	svc := Services{Clock: SystemClock{}}
	if _, err := svc.CreateOrganisation(context.Background(), "evil\u202eorg"); KindOf(err) != KindInvalidInput {
		t.Errorf("CreateOrganisation: %v", err)
	}
	if _, err := svc.CreatePrincipal(context.Background(), "o", PrincipalApplication, "client\x00"); KindOf(err) != KindInvalidInput {
		t.Errorf("CreatePrincipal: %v", err)
	}
}
