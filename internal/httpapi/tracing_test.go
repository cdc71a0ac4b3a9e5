package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// spanTracing starts a recording server span per request, as
// telemetry.Tracing does.
type spanTracing struct{ tp *sdktrace.TracerProvider }

func (s spanTracing) Handler(server string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := s.tp.Tracer(server).Start(r.Context(), r.Method)
		defer span.End()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// TestServerSpanNamedAfterRoute: with Options.Tracing the server span is
// renamed after the route's pattern and carries it as http.route.
func TestServerSpanNamedAfterRoute(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	h := NewHandler(Options{Tracing: spanTracing{tp}}, routes(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {})
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/items/7", nil))
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "GET /items/{id}" {
		t.Fatalf("spans %v, want one named GET /items/{id}", spans)
	}
	want := attribute.String("http.route", "/items/{id}")
	for _, a := range spans[0].Attributes {
		if a == want {
			return
		}
	}
	t.Fatalf("span attributes %v, want %v", spans[0].Attributes, want)
}
