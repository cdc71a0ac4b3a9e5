package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFallback: the fallback takes exactly the requests the mux would
// answer with its 404, the first time (looked up) and every time after
// (remembered): a path served under another method stays the mux's 405,
// an unclean path or a missing trailing slash its redirect, a host
// pattern applies to its host only.
func TestFallback(t *testing.T) {
	mods := routes(func(mux *http.ServeMux) {
		mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "token") })
		mux.HandleFunc("GET /tree/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "tree") })
		mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "item") })
		mux.HandleFunc("GET internal.example/only", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hosted") })
	})
	fb := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "fallback "+r.URL.Path) })
	h := NewHandler(Options{Fallback: fb}, mods)
	for _, tc := range []struct {
		method, host, target string
		status               int
		body, location       string
	}{
		{"POST", "", "/oauth/token", 200, "token", ""},
		{"GET", "", "/oauth/token", 405, "", ""},
		{"GET", "", "/tree/", 200, "tree", ""},
		{"GET", "", "/tree", 307, "", "/tree/"},
		{"GET", "", "/a/../tree/", 307, "", "/tree/"},
		{"GET", "", "/a//b", 307, "", "/a/b"},
		{"GET", "", "/items/7", 200, "item", ""},
		{"DELETE", "", "/items/7", 405, "", ""},
		{"GET", "", "/items/7/more", 200, "fallback /items/7/more", ""},
		{"GET", "", "/api/x", 200, "fallback /api/x", ""},
		{"GET", "internal.example", "/only", 200, "hosted", ""},
		{"GET", "internal.example:8080", "/only", 200, "hosted", ""},
		{"GET", "public.example", "/only", 200, "fallback /only", ""},
		{"GET", "", "/" + strings.Repeat("x", maxMuxKeyBytes), 200, "fallback /" + strings.Repeat("x", maxMuxKeyBytes), ""},
	} {
		for round := range 2 {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			if tc.host != "" {
				r.Host = tc.host
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			name := fmt.Sprintf("%s %s%s (round %d)", tc.method, tc.host, tc.target, round)
			if w.Code != tc.status {
				t.Errorf("%s: status %d, want %d", name, w.Code, tc.status)
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("%s: body %q, want %q", name, w.Body, tc.body)
			}
			if loc := w.Header().Get("Location"); loc != tc.location {
				t.Errorf("%s: Location %q, want %q", name, loc, tc.location)
			}
		}
	}
}

// TestMuxAnswersBound: the remembered answers never exceed their bound
// (full, the set starts again empty, and the newest answer is kept), and
// a key longer than maxMuxKeyBytes is not remembered.
func TestMuxAnswersBound(t *testing.T) {
	c := newMuxAnswers(4)
	for i := range 4 {
		c.put(muxKey{method: "GET", path: fmt.Sprintf("/p%d", i)}, true)
	}
	if n := c.len(); n != 4 {
		t.Fatalf("%d answers, want 4", n)
	}
	if u, ok := c.get(muxKey{method: "GET", path: "/p0"}); !ok || !u {
		t.Fatalf("/p0: %v %v", u, ok)
	}
	c.put(muxKey{method: "GET", path: "/p4"}, false)
	if n := c.len(); n != 1 {
		t.Fatalf("full: %d answers after the next, want 1 (started again)", n)
	}
	if u, ok := c.get(muxKey{method: "GET", path: "/p4"}); !ok || u {
		t.Fatalf("/p4: %v %v", u, ok)
	}
	if _, ok := c.get(muxKey{method: "GET", path: "/p0"}); ok {
		t.Fatal("/p0 survived the restart")
	}
	r := httptest.NewRequest("GET", "/"+strings.Repeat("x", maxMuxKeyBytes), nil)
	if _, ok := muxKeyOf(r); ok {
		t.Fatal("an over-long key is remembered")
	}
	if _, ok := muxKeyOf(httptest.NewRequest("GET", "/api/x", nil)); !ok {
		t.Fatal("a short key is not remembered")
	}

	// Through the chain: endless distinct paths never hold more than the bound.
	answers := newMuxAnswers(maxMuxAnswers)
	mux := http.NewServeMux()
	chain := fallbackWith(answers, mux, http.NotFoundHandler(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for i := range 3 * maxMuxAnswers {
		chain.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("/attacker/%d", i), nil))
		if n := answers.len(); n > maxMuxAnswers {
			t.Fatalf("after %d paths: %d answers", i+1, n)
		}
	}
}
