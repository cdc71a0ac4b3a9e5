package scheme

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/authgate/authgate/internal/core"
)

// outcomeObserver is what Instrumented reports outcomes to (core.Observer).
type outcomeObserver interface {
	AuthOutcome(family, scheme string, err error)
}

var _ outcomeObserver = (core.Observer)(nil)

// Instrumented wraps s so that every Authenticate is one span (the
// signature or token check, its store calls as children) and one counted
// outcome (authgate_auth_total). Adapters wrap their schemes once, and
// their own routes and the gateway use the same wrapped value, so each
// request is counted once whichever path checked it.
func Instrumented(s Scheme, obs outcomeObserver, tracer trace.Tracer) Scheme {
	if _, ok := s.(instrumented); ok {
		return s
	}
	return instrumented{Scheme: s, obs: obs, tracer: tracer}
}

type instrumented struct {
	Scheme
	obs    outcomeObserver
	tracer trace.Tracer
}

var _ Scheme = instrumented{}

// Authenticate implements Scheme.
func (i instrumented) Authenticate(ctx context.Context, req Request) (Caller, error) {
	ctx, o := Observe(ctx, i.obs, i.tracer, i.Family(), i.Name())
	c, err := i.Scheme.Authenticate(ctx, req)
	o.Done(c.OrgID, err)
	return c, err
}

// Observe starts observing one authentication by scheme name of family:
// a span when tracer is set (its children are the checks' store calls)
// and, when the Observation is Done, one counted outcome. An adapter whose
// own routes check credentials outside a Scheme value calls it around that
// check, so every path is observed the same way.
func Observe(ctx context.Context, obs outcomeObserver, tracer trace.Tracer, family, name string) (context.Context, Observation) {
	o := Observation{obs: obs, family: family, name: name}
	if tracer != nil {
		ctx, o.span = tracer.Start(ctx, "authenticate "+name, trace.WithAttributes(
			attribute.String("authgate.family", family), attribute.String("authgate.scheme", name)))
	}
	return ctx, o
}

// Observation is one authentication being observed (Observe). It is a
// value, not a closure, so observing costs no allocation per check; the
// zero Observation observes nothing.
type Observation struct {
	obs          outcomeObserver
	span         trace.Span
	family, name string
}

// Done counts the outcome and ends the span; org names the caller's
// organisation when err is nil.
func (o Observation) Done(org string, err error) {
	if o.obs != nil {
		o.obs.AuthOutcome(o.family, o.name, err)
	}
	if o.span == nil {
		return
	}
	if err != nil {
		// The kind, never the reason: a reason may quote what the client sent.
		o.span.SetStatus(codes.Error, core.KindOf(err).String())
	} else if org != "" {
		o.span.SetAttributes(attribute.String("authgate.organisation", org))
	}
	o.span.End()
}

// WriteRefusal implements Scheme (explicit so the embedding stays obvious).
func (i instrumented) WriteRefusal(w http.ResponseWriter, r *http.Request, err error) {
	i.Scheme.WriteRefusal(w, r, err)
}
