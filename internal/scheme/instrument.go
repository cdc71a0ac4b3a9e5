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
	if i.tracer != nil {
		var span trace.Span
		ctx, span = i.tracer.Start(ctx, "authenticate "+i.Name(), trace.WithAttributes(
			attribute.String("authgate.family", i.Family()), attribute.String("authgate.scheme", i.Name())))
		defer span.End()
		c, err := i.Scheme.Authenticate(ctx, req)
		i.observe(err)
		if err != nil {
			// The kind, never the reason: a reason may quote what the client sent.
			span.SetStatus(codes.Error, core.KindOf(err).String())
		} else {
			span.SetAttributes(attribute.String("authgate.organisation", c.OrgID))
		}
		return c, err
	}
	c, err := i.Scheme.Authenticate(ctx, req)
	i.observe(err)
	return c, err
}

func (i instrumented) observe(err error) {
	if i.obs != nil {
		i.obs.AuthOutcome(i.Family(), i.Name(), err)
	}
}

// WriteRefusal implements Scheme (explicit so the embedding stays obvious).
func (i instrumented) WriteRefusal(w http.ResponseWriter, r *http.Request, err error) {
	i.Scheme.WriteRefusal(w, r, err)
}
