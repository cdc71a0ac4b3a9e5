package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
)

type routes func(mux *http.ServeMux)

func (f routes) Register(mux *http.ServeMux) { f(mux) }

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error          { return p.err }
func (p pinger) CheckWritable(context.Context) error { return nil }

func TestHandlerChain(t *testing.T) {
	h := NewHandler(Options{MaxBodyBytes: 16, Ready: pinger{}, ServeMetrics: true}, routes(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
		mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				WriteJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "too large"})
				return
			}
			WriteJSON(w, http.StatusOK, map[string]string{"body": string(b), "id": RequestID(r)})
		})
	}))
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		header     map[string]string
		wantStatus int
		wantBody   string
	}{
		{"health", "GET", "/healthz", "", nil, 200, `"ok"`},
		{"ready", "GET", "/readyz", "", nil, 200, `"ready"`},
		{"panic is recovered", "GET", "/panic", "", nil, 500, `"internal error"`},
		{"small body", "POST", "/echo", "hello", nil, 200, `"hello"`},
		{"declared oversized body", "POST", "/echo", strings.Repeat("x", 17), nil, 413, "larger than 16 bytes"},
		{"request id is propagated", "POST", "/echo", "", map[string]string{"X-Request-Id": "abc-123"}, 200, `"abc-123"`},
		{"metrics", "GET", "/metrics", "", nil, 200, "authgate_http_requests_total"},
		{"unknown route", "GET", "/nope", "", nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
			if rec.Header().Get("X-Request-Id") == "" {
				t.Fatal("no request id")
			}
		})
	}
}

func TestStreamedBodyIsLimited(t *testing.T) {
	h := NewHandler(Options{MaxBodyBytes: 1024}, routes(func(mux *http.ServeMux) {
		mux.HandleFunc("POST /read", func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			var mbe *http.MaxBytesError
			if !errors.As(err, &mbe) {
				t.Errorf("want MaxBytesError, got %v", err)
			}
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		})
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(strings.Repeat("x", 4096)))
		pw.Close()
	}()
	resp, err := http.Post(srv.URL+"/read", "text/plain", pr) // chunked: no Content-Length
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestReadinessFailsWithoutDatabase(t *testing.T) {
	h := NewHandler(Options{Ready: pinger{err: errors.New("down")}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "down") {
		t.Fatalf("got %d %s", rec.Code, rec.Body.String())
	}
}

func TestOverloadIsShed(t *testing.T) {
	release := make(chan struct{})
	var entered sync.WaitGroup
	entered.Add(2)
	h := NewHandler(Options{MaxInFlight: 2}, routes(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
			entered.Done()
			<-release
		})
	}))
	var done sync.WaitGroup
	for i := 0; i < 2; i++ {
		done.Add(1)
		go func() {
			defer done.Done()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil))
		}()
	}
	entered.Wait()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/slow", nil))
	close(release)
	done.Wait()
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("third request: %d, Retry-After=%q", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Served and refused requests alike gave their count back: two
	// requests are in flight at once again.
	release = make(chan struct{})
	entered.Add(2)
	for i := range 2 {
		done.Add(1)
		go func() {
			defer done.Done()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/slow", nil))
			if rec.Code != http.StatusOK {
				t.Errorf("request %d after the overload: %d", i, rec.Code)
			}
		}()
	}
	entered.Wait()
	close(release)
	done.Wait()
}

func TestClientAddr(t *testing.T) {
	trusted, err := ParsePrefixes([]string{"10.0.0.0/8", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	c := ClientAddr{Trusted: trusted}
	tests := []struct {
		name       string
		remote     string
		xff, proto string
		wantIP     string
		wantSecure bool
	}{
		{"direct untrusted peer ignores headers", "192.0.2.1:1234", "198.51.100.7", "https", "192.0.2.1", false},
		{"trusted proxy", "10.1.2.3:1234", "198.51.100.7", "https", "198.51.100.7", true},
		{"chain of trusted proxies", "127.0.0.1:1", "198.51.100.7, 10.9.9.9", "http", "198.51.100.7", false},
		{"spoofed left-most entry is not believed", "10.1.2.3:1", "203.0.113.66, 198.51.100.7", "", "198.51.100.7", false},
		{"garbage header", "10.1.2.3:1", "not-an-ip", "", "10.1.2.3", false},
		// Several header lines are one list, in order (a newline separates them here).
		{"several header lines", "10.1.2.3:1", "203.0.113.66\n198.51.100.7, 10.2.2.2\n10.3.3.3", "", "198.51.100.7", false},
		{"garbage right of the client stops the walk", "10.1.2.3:1", "198.51.100.7, junk, 10.2.2.2", "", "10.1.2.3", false},
		{"empty last line stops the walk", "10.1.2.3:1", "198.51.100.7\n", "", "10.1.2.3", false},
		{"only trusted proxies", "10.1.2.3:1", "10.4.4.4,10.5.5.5", "", "10.1.2.3", false},
		{"IPv4-mapped entries are unmapped", "[::ffff:10.1.2.3]:1", " ::ffff:198.51.100.7 ", "", "198.51.100.7", false},
		{"peer that is no address", "pipe", "198.51.100.7", "", "pipe", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				for _, v := range strings.Split(tt.xff, "\n") {
					r.Header.Add("X-Forwarded-For", v)
				}
			}
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			if got := c.IP(r); got != tt.wantIP {
				t.Errorf("IP = %s, want %s", got, tt.wantIP)
			}
			// Addr is the same address, unformatted (zero for no address).
			if a := c.Addr(r); a.IsValid() != (tt.wantIP != tt.remote) || a.IsValid() && a.String() != tt.wantIP {
				t.Errorf("Addr = %v, want %s", a, tt.wantIP)
			}
			if got := c.Secure(r); got != tt.wantSecure {
				t.Errorf("Secure = %v, want %v", got, tt.wantSecure)
			}
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Name string `json:"Name"`
	}
	tests := []struct {
		in, wantErr string
	}{
		{`{"Name":"x"}`, ""},
		{`{"Name":1}`, "Name must be of type string"},
		{`{"Name":`, "not valid JSON"},
		{``, "not valid JSON"},
		{`{"Name":"x"} {}`, "trailing data"},
	}
	for _, tt := range tests {
		var b body
		err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(tt.in)), &b)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("DecodeJSON(%q) = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

// TestErrorWriter: with Options.Errors set, every refusal the chain makes
// itself goes through it with its status and a typed error (a SOAP
// listener writes Faults there); without, unrouted requests keep the
// mux's plain-text answers.
func TestErrorWriter(t *testing.T) {
	type seen struct {
		status int
		kind   core.Kind
		retry  time.Duration
	}
	var got []seen
	errs := func(w http.ResponseWriter, _ *http.Request, status int, err *core.Error) {
		got = append(got, seen{status, err.Kind, err.RetryAfter})
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "<fault>"+err.Reason+"</fault>")
	}
	release := make(chan struct{})
	entered := make(chan struct{})
	mod := routes(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
		mux.HandleFunc("POST /soap", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Has("hold") {
				close(entered)
				<-release
			}
			w.WriteHeader(http.StatusOK)
		})
	})
	h := NewHandler(Options{MaxBodyBytes: 16, MaxInFlight: 1, Errors: errs}, mod)
	for _, tc := range []struct {
		name, method, path, body string
		want                     seen
		header                   string // a header the refusal must carry
	}{
		{"body over the limit", "POST", "/soap", strings.Repeat("x", 17), seen{413, core.KindInvalidInput, 0}, "Connection"},
		{"unknown route", "POST", "/nope", "", seen{404, core.KindNotFound, 0}, ""},
		{"method not allowed", "PUT", "/soap", "", seen{405, core.KindInvalidInput, 0}, "Allow"},
		{"panic", "GET", "/panic", "", seen{500, core.KindInternal, 0}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			if len(got) != 1 || got[0] != tc.want || rec.Code != tc.want.status || !strings.HasPrefix(rec.Body.String(), "<fault>") {
				t.Fatalf("got %+v, HTTP %d %q; want %+v", got, rec.Code, rec.Body, tc.want)
			}
			if tc.header != "" && rec.Header().Get(tc.header) == "" {
				t.Fatalf("no %s header: %v", tc.header, rec.Header())
			}
		})
	}
	t.Run("overload", func(t *testing.T) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/soap?hold", nil))
		}()
		<-entered
		got = nil
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/soap", nil))
		close(release)
		<-done
		if want := (seen{503, core.KindUnavailable, time.Second}); len(got) != 1 || got[0] != want || rec.Header().Get("Retry-After") != "1" {
			t.Fatalf("got %+v %v, want %+v with Retry-After", got, rec.Header(), want)
		}
	})
	t.Run("default keeps the mux's answers", func(t *testing.T) {
		rec := httptest.NewRecorder()
		NewHandler(Options{}, mod).ServeHTTP(rec, httptest.NewRequest("PUT", "/soap", nil))
		if rec.Code != 405 || !strings.Contains(rec.Body.String(), "Method Not Allowed") {
			t.Fatalf("HTTP %d %q", rec.Code, rec.Body)
		}
	})
}

type guardKey struct{}
type otherGuardKey struct{}

// TestSetCaller: a guard's caller reaches the route's handler through the
// chain's state; outside the chain, and for a second guard of another
// key, SetCaller refuses so the guard uses a context value instead.
func TestSetCaller(t *testing.T) {
	type seen struct {
		first, second  bool
		caller, other  any
		okFirst, okOth bool
	}
	var got seen
	h := NewHandler(Options{}, routes(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /guarded", func(w http.ResponseWriter, r *http.Request) {
			got.first = SetCaller(r, guardKey{}, "alice")
			got.second = SetCaller(r, otherGuardKey{}, "bob")
			got.caller, got.okFirst = CallerOf(r.Context(), guardKey{})
			got.other, got.okOth = CallerOf(r.Context(), otherGuardKey{})
			w.WriteHeader(http.StatusNoContent)
		})
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/guarded", nil))
	if want := (seen{first: true, caller: "alice", okFirst: true}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}

	// The next request starts without a caller.
	var leaked bool
	h2 := NewHandler(Options{}, routes(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /set", func(w http.ResponseWriter, r *http.Request) { SetCaller(r, guardKey{}, "alice") })
		mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) { _, leaked = CallerOf(r.Context(), guardKey{}) })
	}))
	h2.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/set", nil))
	h2.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/read", nil))
	if leaked {
		t.Fatal("a caller outlived its request")
	}

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if SetCaller(r, guardKey{}, "alice") {
		t.Fatal("SetCaller outside the chain reported success")
	}
	if _, ok := CallerOf(r.Context(), guardKey{}); ok {
		t.Fatal("CallerOf outside the chain found a caller")
	}
}

// TestPanicLoggedWithRequestID: the log line of a recovered panic carries
// the request's id, the one its 500 answer carries (generated, or the
// client's own).
func TestPanicLoggedWithRequestID(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	h := NewHandler(Options{Log: slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, nil)), AccessLog: AccessLogOff},
		routes(func(mux *http.ServeMux) {
			mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
		}))
	for _, sent := range []string{"", "abc-123"} {
		logs.Reset()
		req := httptest.NewRequest(http.MethodGet, "/panic", nil)
		if sent != "" {
			req.Header.Set("X-Request-Id", sent)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		id := rec.Header().Get("X-Request-Id")
		if rec.Code != http.StatusInternalServerError || id == "" || sent != "" && id != sent {
			t.Fatalf("answer %d with X-Request-Id %q (sent %q)", rec.Code, id, sent)
		}
		mu.Lock()
		line := logs.String()
		mu.Unlock()
		if !strings.Contains(line, `"msg":"panic serving request"`) || !strings.Contains(line, `"request_id":"`+id+`"`) {
			t.Fatalf("panic log %q does not carry request id %q", line, id)
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type outerKey struct{}

// TestRequestStateContext: the context of the request the chain hands
// down (its state) is the server's context with the state added: the
// server's values, deadline and cancellation (with its cause) reach the
// route, contexts derived from it are cancelled with it without a
// goroutine of their own (as from the server's context), and the
// server's request is left as it was.
func TestRequestStateContext(t *testing.T) {
	deadline := time.Now().Add(time.Hour)
	server, cancelServer := context.WithDeadline(context.WithValue(context.Background(), outerKey{}, "outer"), deadline)
	defer cancelServer()
	server, cancelCause := context.WithCancelCause(server)
	type seen struct {
		value, id       any
		deadline        time.Time
		hasDeadline     bool
		errBefore       error
		derivedAllocs   float64
		referenceAllocs float64
	}
	var got seen
	var routeCtx, derived context.Context
	var routeReq *http.Request
	h := NewHandler(Options{AccessLog: AccessLogOff}, routes(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /ctx", func(w http.ResponseWriter, r *http.Request) {
			routeCtx, routeReq = r.Context(), r
			got.value, got.id = r.Context().Value(outerKey{}), RequestID(r)
			got.deadline, got.hasDeadline = r.Context().Deadline()
			got.errBefore = r.Context().Err()
			var cancel context.CancelFunc
			derived, cancel = context.WithCancel(r.Context())
			_ = cancel // cancelled by the server's context below
			// Deriving from the state costs what deriving from the
			// server's context costs: no goroutine to forward a
			// cancellation (which would cost more allocations).
			got.derivedAllocs = testing.AllocsPerRun(20, func() { _, c := context.WithCancel(r.Context()); c() })
			got.referenceAllocs = testing.AllocsPerRun(20, func() { _, c := context.WithCancel(server); c() })
			w.WriteHeader(http.StatusNoContent)
		})
	}))
	req := httptest.NewRequest(http.MethodGet, "/ctx", nil).WithContext(server)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("HTTP %d", rec.Code)
	}
	if got.value != "outer" || got.id != rec.Header().Get("X-Request-Id") || got.id == "" ||
		!got.hasDeadline || !got.deadline.Equal(deadline) || got.errBefore != nil {
		t.Fatalf("route saw %+v, answer's id %q", got, rec.Header().Get("X-Request-Id"))
	}
	if got.derivedAllocs != got.referenceAllocs {
		t.Fatalf("context.WithCancel of the route's context: %v allocations, of the server's: %v", got.derivedAllocs, got.referenceAllocs)
	}
	if routeReq == req || req.Context() != server || stateOf(req.Context()) != nil {
		t.Fatal("the server's request was changed instead of copied")
	}
	cause := errors.New("client went away")
	cancelCause(cause)
	select {
	case <-derived.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a context derived from the route's was not cancelled with the server's")
	}
	if routeCtx.Err() != context.Canceled || context.Cause(routeCtx) != cause || context.Cause(derived) != cause {
		t.Fatalf("route context after cancel: err %v, cause %v, derived's cause %v", routeCtx.Err(), context.Cause(routeCtx), context.Cause(derived))
	}
}
