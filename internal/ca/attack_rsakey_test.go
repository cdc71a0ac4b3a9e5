package ca

import (
	"context"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/core"
	"github.com/authgate/authgate/internal/testutil/keytest"
)

// A CSR with an oversized RSA key is refused on its size, before its
// signature is verified with that key (the verification is the cost).
func TestAttack_OversizedRSAKeyInCSR(t *testing.T) {
	a, _, _ := newCA(t, InitOptions{Algorithm: "ecdsa"})
	ta := partnerName("M2M_TA", "ta.sample.org")
	for _, bits := range []int{4097, 8192, 16384} {
		_, err := a.Sign(context.Background(), SignRequest{CSR: keytest.CSR(keytest.FakeRSAKey(bits), ta), Profile: "signing", Environment: EnvTA})
		if core.KindOf(err) != core.KindInvalidInput || !strings.Contains(core.ReasonOf(err), "2048 to 4096 bits are accepted") {
			t.Errorf("%d-bit CSR: err = %v, want the key size refused", bits, err)
		}
	}
}
