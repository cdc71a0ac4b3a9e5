package telemetry

import (
	"context"
	"net/http"
	"net/url"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracingConfig selects the OTLP/HTTP exporter (config section tracing).
type TracingConfig struct {
	Enabled     bool
	Endpoint    string // OTLP/HTTP traces URL
	ServiceName string
	SampleRatio float64
	Version     string
}

// Tracing is the server's tracer provider and W3C trace-context
// propagator, passed explicitly to what starts spans (no global
// provider): the listeners' handlers, the store, the schemes, the outgoing
// clients (gateway upstreams, M2M callbacks). Off, it is a no-op.
type Tracing struct {
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
	// on: spans are recorded; off, handlers and transports are left
	// unwrapped so tracing that is off costs nothing per request.
	on bool
}

// NoTracing is tracing off: spans cost nothing and nothing is propagated.
func NoTracing() *Tracing {
	return &Tracing{Provider: noop.NewTracerProvider(), Propagator: propagation.NewCompositeTextMapPropagator(),
		shutdown: func(context.Context) error { return nil }}
}

// NewTracing builds the OTLP/HTTP exporter and batching provider when
// cfg.Enabled, else NoTracing.
func NewTracing(ctx context.Context, cfg TracingConfig) (*Tracing, error) {
	if !cfg.Enabled {
		return NoTracing(), nil
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()))
	if err != nil {
		return nil, err
	}
	return WithExporter(exp, cfg), nil
}

// WithExporter builds tracing over exp (tests pass an in-memory exporter,
// which is exported synchronously).
func WithExporter(exp sdktrace.SpanExporter, cfg TracingConfig) *Tracing {
	res := resourceOf(cfg)
	processor := sdktrace.NewBatchSpanProcessor(exp)
	if _, ok := exp.(interface{ Reset() }); ok { // tracetest.InMemoryExporter
		processor = sdktrace.NewSimpleSpanProcessor(exp)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(processor), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))))
	return &Tracing{Provider: tp, Propagator: propagation.TraceContext{}, shutdown: tp.Shutdown, on: true}
}

// Shutdown flushes the spans still buffered.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.shutdown(ctx) }

// On reports whether spans are recorded.
func (t *Tracing) On() bool { return t.on }

// Tracer is authgate's tracer.
func (t *Tracing) Tracer() trace.Tracer { return t.Provider.Tracer("github.com/authgate/authgate") }

// Handler wraps a listener's handler: a server span per request, its
// parent taken from the request's traceparent.
func (t *Tracing) Handler(server string, h http.Handler) http.Handler {
	if !t.on {
		return h
	}
	return otelhttp.NewHandler(h, server, otelhttp.WithTracerProvider(t.Provider), otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
}

// Transport wraps an outgoing transport: a client span per request and
// the traceparent header sent on.
func (t *Tracing) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if !t.on {
		return base
	}
	return otelhttp.NewTransport(base, otelhttp.WithTracerProvider(t.Provider), otelhttp.WithPropagators(t.Propagator))
}

// resourceOf names the service in every span.
func resourceOf(cfg TracingConfig) *resource.Resource {
	return resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName), attribute.String("service.version", cfg.Version))
}
