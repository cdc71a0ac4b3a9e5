package cli

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpCollector is an OTLP/HTTP traces receiver that keeps every span.
type otlpCollector struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (c *otlpCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

// TestTracingOneTracePerRequest: with tracing on, the server exports over
// OTLP/HTTP one trace per request: a request's traceparent is the parent
// of its server span, its store statements are children in the same
// trace, and a request without traceparent starts a trace of its own.
// Arguments never appear in span attributes.
func TestTracingOneTracePerRequest(t *testing.T) {
	col := &otlpCollector{}
	ts := httptest.NewServer(col)
	defer ts.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "authgate.yaml")
	if err := os.WriteFile(cfg, []byte("tracing:\n  enabled: true\n  endpoint: "+ts.URL+"/v1/traces\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--data-dir", filepath.Join(dir, "data"), "--config", cfg)
	key, secret := bootstrapCredentials(t, s) // waits for the line
	m := []string{"", key, secret}
	const parentTrace, parentSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	grant := func(traceparent string) {
		req, _ := http.NewRequest("POST", s.url+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"password"}, "username": {m[1]}, "password": {m[2]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if traceparent != "" {
			req.Header.Set("traceparent", traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("password grant: %d", resp.StatusCode)
		}
	}
	grant("00-" + parentTrace + "-" + parentSpan + "-01")
	grant("")
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil { // shutdown flushes the batch
		t.Fatal(err)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("stop: %v", err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	byTrace := map[string][]*tracepb.Span{}
	var servers []*tracepb.Span
	for _, sp := range col.spans {
		id := hex.EncodeToString(sp.TraceId)
		byTrace[id] = append(byTrace[id], sp)
		if sp.Kind == tracepb.Span_SPAN_KIND_SERVER {
			servers = append(servers, sp)
		}
		for _, a := range sp.Attributes {
			if strings.Contains(a.Value.String(), m[2]) {
				t.Fatalf("span %s carries the secret in %s", sp.Name, a.Key)
			}
		}
	}
	if len(servers) != 2 {
		t.Fatalf("%d server spans, want one per request: %v", len(servers), names(col.spans))
	}
	traces := map[string]bool{}
	for _, sv := range servers {
		id := hex.EncodeToString(sv.TraceId)
		traces[id] = true
		if sv.Name != "POST /oauth/token" {
			t.Errorf("server span named %q, want the route", sv.Name)
		}
		stores := 0
		for _, sp := range byTrace[id] {
			if strings.HasPrefix(sp.Name, "store ") {
				stores++
			}
		}
		if stores == 0 {
			t.Errorf("trace %s has no store spans: %v", id, names(byTrace[id]))
		}
	}
	if len(traces) != 2 {
		t.Fatalf("the two requests share a trace")
	}
	with := byTrace[parentTrace]
	if len(with) == 0 {
		t.Fatalf("no span in the traceparent's trace %s: %v", parentTrace, names(col.spans))
	}
	for _, sp := range with {
		if sp.Kind == tracepb.Span_SPAN_KIND_SERVER && hex.EncodeToString(sp.ParentSpanId) != parentSpan {
			t.Fatalf("server span's parent %x, want the traceparent's %s", sp.ParentSpanId, parentSpan)
		}
	}
}

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, sp := range spans {
		out = append(out, sp.Name)
	}
	return out
}

// TestTracingPropagatesToGatewayUpstreams: a request through the gateway
// with a traceparent reaches the upstream with a traceparent of the same
// trace whose parent is authgate's own client span, not the caller's
// span (the upstream joins the trace below authgate).
func TestTracingPropagatesToGatewayUpstreams(t *testing.T) {
	col := &otlpCollector{}
	ts := httptest.NewServer(col)
	defer ts.Close()
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("traceparent"))
		mu.Unlock()
	}))
	defer up.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "authgate.yaml")
	yaml := "tracing:\n  enabled: true\n  endpoint: " + ts.URL + "/v1/traces\n" +
		"gateway:\n  enabled: true\n  routes:\n    - name: orders\n      path_prefix: /orders\n      schemes: [oauth2-bearer]\n      upstreams: [\"" + up.URL + "\"]\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--data-dir", filepath.Join(dir, "data"), "--config", cfg)
	key, secret := bootstrapCredentials(t, s)
	tok, err := passwordToken(s.url, key, secret)
	if err != nil {
		t.Fatal(err)
	}
	const parentTrace, parentSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	req, _ := http.NewRequest("GET", s.url+"/orders/7", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("traceparent", "00-"+parentTrace+"-"+parentSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("through the gateway: %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || len(seen[0]) != 55 || seen[0][3:35] != parentTrace || seen[0][36:52] == parentSpan {
		t.Fatalf("upstream traceparent %q: want trace %s below authgate's span", seen, parentTrace)
	}
}
