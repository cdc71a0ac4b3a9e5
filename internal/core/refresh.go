package core

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// MaxRefreshGrace bounds every family's refresh_grace: a longer window
// would let a stolen refresh token be raced for minutes without revoking
// its family.
const MaxRefreshGrace = 5 * time.Minute

// CheckRefreshGrace validates a family's refresh_grace setting (0 ..
// MaxRefreshGrace). Each family chooses its default: OAuth2 10 s (device
// server clients refresh from several threads at once), TAAP 0 (its
// clients refresh one at a time, so any second exchange is reuse).
func CheckRefreshGrace(grace time.Duration) error {
	if grace < 0 || grace > MaxRefreshGrace {
		return fmt.Errorf("refresh_grace %v: must be between 0 and 5m", grace)
	}
	return nil
}

// MaxRefreshExchanges bounds how often one refresh token is exchanged: once,
// plus one concurrent retry inside the grace window (a client whose first
// response was lost). Without the bound, N parallel refreshes of one token
// inside the window would mint N live pairs, each able to refresh on.
const MaxRefreshExchanges = 2

// Exchange says how a refresh-token exchange was decided.
type Exchange struct {
	// Retry is set on the second exchange of a token inside the grace window.
	Retry bool
	// Reused is set when the token came back after the grace window: the
	// whole family was revoked (RFC 9700 section 4.14.2).
	Reused bool
	// Revoked counts the tokens revoked with the family when Reused.
	Revoked int
}

// ReuseEvent is the audit record of a detected reuse (Reused) of refresh
// token t, the same for every family; the caller fills in Protocol,
// RemoteAddr and RequestID.
func (ex Exchange) ReuseEvent(t Token) AuditEvent {
	return AuditEvent{Action: AuditRevoke, Outcome: OutcomeFailure, OrgID: t.OrgID, PrincipalID: t.PrincipalID, Subject: t.ID,
		Reason: "refresh token reuse detected; revoked family " + t.FamilyID + " (" + strconv.Itoa(ex.Revoked) + " tokens)"}
}

// ExchangeRefresh decides whether refresh token t (already looked up and
// checked by the caller) may be exchanged for new tokens now. The rule,
// shared by every family that rotates refresh tokens:
//
//   - the first exchange is allowed;
//   - while the first exchange is no older than grace, up to
//     MaxRefreshExchanges exchanges in all are allowed, the later ones are
//     refused (KindReplayed) and nothing is revoked: a racing client keeps
//     the pairs it already got;
//   - once the first exchange is older than grace, presenting the token is
//     reuse: every token of its family is revoked and the exchange refused;
//   - of the (at most two) refresh tokens one exchange produced, the first
//     one exchanged is the only one that goes on: its sibling is void from
//     then on (refused, nothing revoked), so a family never has more than
//     two live lines, however often its tokens are raced.
//
// grace 0 allows one exchange only. The counts are kept in the store, so
// the bounds hold across nodes.
func (s *Tokens) ExchangeRefresh(ctx context.Context, t Token, grace time.Duration) (Exchange, error) {
	now := s.clock.Now()
	if t.ParentID != "" {
		ok, err := s.store.ChooseTokenSuccessor(ctx, t.ParentID, t.ID, t.FamilyID)
		if err != nil {
			return Exchange{}, err
		}
		if !ok {
			return Exchange{}, E(KindReplayed, "another refresh token from the same exchange was used first; this one is void")
		}
	}
	limit := MaxRefreshExchanges
	if grace <= 0 {
		limit = 1
	}
	n, err := s.store.CountTokenExchange(ctx, t.ID, now, now.Add(-grace), limit)
	if err != nil {
		return Exchange{}, err
	}
	if n > 0 {
		return Exchange{Retry: n > 1}, nil
	}
	cur, err := s.store.GetToken(ctx, t.ID)
	if err != nil {
		if KindOf(err) == KindNotFound {
			return Exchange{}, E(KindUnauthenticated, "invalid token")
		}
		return Exchange{}, err
	}
	if grace > 0 && cur.RotatedAt != nil && now.Sub(*cur.RotatedAt) <= grace {
		return Exchange{}, E(KindReplayed, "refresh token was already exchanged "+strconv.Itoa(limit)+
			" times; use the tokens of an earlier exchange")
	}
	revoked, err := s.RevokeFamily(ctx, t.FamilyID)
	if err != nil {
		return Exchange{}, err
	}
	return Exchange{Reused: true, Revoked: revoked}, E(KindReplayed, "refresh token already used; all tokens of this grant are revoked")
}
