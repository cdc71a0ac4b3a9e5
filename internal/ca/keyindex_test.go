package ca

import (
	"context"
	"crypto/sha1" //nolint:gosec // the thumbprint under test
	"testing"
)

// TestFindByKeyReference: signing certificates are found by ThumbprintSHA1
// and by subject key identifier (both certificates re-issued for one key,
// newest first); other profiles are not indexed; unknown names find nothing.
func TestFindByKeyReference(t *testing.T) {
	a, _, _ := newCA(t, InitOptions{Algorithm: "rsa", RSABits: 2048})
	ctx := context.Background()
	sign := func(profile string) Issued {
		iss, err := a.Sign(ctx, SignRequest{CSR: makeCSR(t, rsa2048, partnerName("M2M_TA", "ta.sample.org"), nil), Profile: profile, Environment: EnvTA})
		if err != nil {
			t.Fatal(err)
		}
		return iss
	}
	first, second, srv := sign("signing"), sign("signing"), sign("ssl-server")
	thumb := func(iss Issued) []byte { s := sha1.Sum(iss.Certificate.Raw); return s[:] } //nolint:gosec
	serials := func(kind string, v []byte) []string {
		recs, err := a.FindByKeyReference(ctx, kind, v)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			out = append(out, r.Serial)
		}
		return out
	}
	if got := serials(KeyThumbprintSHA1, thumb(first)); len(got) != 1 || got[0] != first.Record.Serial {
		t.Errorf("thumbprint: %v", got)
	}
	if got := serials(KeySubjectKeyID, first.Certificate.SubjectKeyId); len(got) != 2 || got[0] != second.Record.Serial || got[1] != first.Record.Serial {
		t.Errorf("subject key identifier: %v, want [%s %s]", got, second.Record.Serial, first.Record.Serial)
	}
	if got := serials(KeyThumbprintSHA1, thumb(srv)); len(got) != 0 {
		t.Errorf("ssl-server certificate indexed: %v", got)
	}
	if got := serials(KeyThumbprintSHA1, make([]byte, 20)); len(got) != 0 {
		t.Errorf("unknown thumbprint: %v", got)
	}
	if _, err := a.FindByKeyReference(ctx, "md5", []byte{1}); err == nil {
		t.Error("unknown kind accepted")
	}
}
