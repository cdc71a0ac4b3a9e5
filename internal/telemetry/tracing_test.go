package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTransportPropagatesTraceContext: an outgoing request made within a
// span carries that trace in its traceparent (W3C), and the client span is
// recorded; with tracing off the transport is left as it is and sends no
// traceparent.
func TestTransportPropagatesTraceContext(t *testing.T) {
	var got []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("traceparent"))
	}))
	defer upstream.Close()
	exp := tracetest.NewInMemoryExporter()
	on := WithExporter(exp, TracingConfig{Enabled: true, ServiceName: "authgate", SampleRatio: 1})
	off := NoTracing()
	if off.Transport(http.DefaultTransport) != http.DefaultTransport || off.Handler("main", http.NotFoundHandler()) == nil {
		t.Fatal("tracing off wraps the transport")
	}
	ctx, span := on.Tracer().Start(context.Background(), "request")
	for _, tr := range []*Tracing{on, off} {
		req, _ := http.NewRequestWithContext(ctx, "GET", upstream.URL, nil)
		resp, err := (&http.Client{Transport: tr.Transport(nil)}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	span.End()
	traceID := span.SpanContext().TraceID().String()
	if len(got) != 2 || len(got[0]) != 55 || got[0][3:35] != traceID || got[1] != "" {
		t.Fatalf("traceparents sent: %q, want the span's trace %s then none", got, traceID)
	}
	spans := exp.GetSpans()
	if len(spans) != 2 { // the client span and its parent
		t.Fatalf("%d spans recorded: %v", len(spans), spans)
	}
	for _, s := range spans {
		if s.SpanContext.TraceID().String() != traceID {
			t.Fatalf("span %s in another trace", s.Name)
		}
	}
}
