package core

import (
	"context"
	"strconv"
)

// RevokeCredentialTokens revokes every token issued on the strength of the
// credential (Token.CredentialID, so also the tokens rotated or renewed
// from them). This node's cache drops them at once; other nodes stop
// accepting them within their cache bound (see tokencache.go).
func (s *Tokens) RevokeCredentialTokens(ctx context.Context, credentialID string) (int, error) {
	n, err := s.store.RevokeCredentialTokens(ctx, credentialID, s.clock.Now())
	s.cache.invalidate()
	s.observer().TokensRevoked(n)
	return n, err
}

// Revocation names who revokes a credential, for the audit log.
type Revocation struct {
	Protocol, Reason                          string
	OrgID, PrincipalID, RemoteAddr, RequestID string // the revoking actor
}

// RevokeCredential revokes a credential and, in the same call, every
// token issued on the strength of it; it records one audit event. Revoking
// a credential twice is harmless (its tokens are revoked again, none live).
func (s Services) RevokeCredential(ctx context.Context, c Credential, by Revocation) (int, error) {
	if err := s.Store.RevokeCredential(ctx, c.ID, s.Clock.Now()); err != nil {
		return 0, err
	}
	n, err := s.Tokens.RevokeCredentialTokens(ctx, c.ID)
	if err != nil {
		return 0, err
	}
	who := by.PrincipalID
	if who == "" {
		who = "the operator" // authgate ca revoke and other CLI paths
	}
	err = s.Audit.Record(ctx, AuditEvent{Action: AuditRevoke, Protocol: by.Protocol, OrgID: c.OrgID, PrincipalID: c.PrincipalID,
		Subject: string(c.Kind) + " " + c.Lookup, Reason: by.Reason + "; " + strconv.Itoa(n) + " tokens issued on it revoked (by " + who + ")",
		RemoteAddr: by.RemoteAddr, RequestID: by.RequestID})
	return n, err
}

// RevokeCertificate revokes the certificate credential registered for the
// certificate with the given hex SHA-256 fingerprint (the credential's
// lookup) and every token issued on it. A certificate that is no
// principal's credential (an M2M partner's, say) has nothing to revoke
// here: found is false.
func (s Services) RevokeCertificate(ctx context.Context, fingerprint string, by Revocation) (found bool, tokens int, err error) {
	c, err := s.Store.FindCredential(ctx, CredCertificate, fingerprint)
	if err != nil {
		if KindOf(err) == KindNotFound {
			return false, 0, nil
		}
		return false, 0, err
	}
	n, err := s.RevokeCredential(ctx, c, by)
	return true, n, err
}
