package core

// Observer is told of the events operators count: authentication outcomes,
// tokens issued and revoked, replays refused, attempts the failed-
// authentication limiter refused. The metrics package implements it; the
// core and the adapters call it. Implementations must be cheap and safe
// for concurrent use: they run on every request.
type Observer interface {
	// AuthOutcome records one authentication by family and scheme; err
	// nil is a success, otherwise its Kind is the reason.
	AuthOutcome(family, scheme string, err error)
	// TokensIssued records n tokens of kind issued.
	TokensIssued(kind TokenKind, n int)
	// TokensRevoked records n tokens revoked by one call (a family, a
	// principal's or a credential's tokens, or one token).
	TokensRevoked(n int)
	// ReplayRefused records a message refused by the replay cache.
	ReplayRefused(namespace string)
	// AuthLimited records an attempt the failed-authentication limiter
	// refused (Guard), by the family and scheme (or grant) of the attempt
	// (Attempt.Family, Attempt.Scheme): the adapters' constants.
	AuthLimited(family, scheme string)
}

// NopObserver observes nothing: the default until SetObserver.
type NopObserver struct{}

var _ Observer = NopObserver{}

// AuthOutcome implements Observer.
func (NopObserver) AuthOutcome(string, string, error) {}

// TokensIssued implements Observer.
func (NopObserver) TokensIssued(TokenKind, int) {}

// TokensRevoked implements Observer.
func (NopObserver) TokensRevoked(int) {}

// ReplayRefused implements Observer.
func (NopObserver) ReplayRefused(string) {}

// AuthLimited implements Observer.
func (NopObserver) AuthLimited(string, string) {}

// observed is embedded by the services that report to an Observer.
type observed struct{ obs Observer }

func (o *observed) observer() Observer {
	if o.obs == nil {
		return NopObserver{}
	}
	return o.obs
}

// SetObserver makes every core service report to o. Call it while
// wiring, before the services are used; adapters read it from
// Services.Observer.
func (s *Services) SetObserver(o Observer) {
	if o == nil {
		o = NopObserver{}
	}
	s.Observer = o
	s.Tokens.obs = o
	s.Replay.obs = o
	s.Guard.obs = o
}

// AuthOutcome records an authentication outcome with the services' Observer.
func (s Services) AuthOutcome(family, scheme string, err error) {
	if s.Observer != nil {
		s.Observer.AuthOutcome(family, scheme, err)
	}
}
