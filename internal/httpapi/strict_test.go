package httpapi

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startStrict serves a handler that answers "<proto> tls=<bool> body=<n>"
// on a Server (TLS if cfg is set) and returns its address.
func startStrict(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Proto+" tls="+strconv.FormatBool(r.TLS != nil)+" body="+strconv.Itoa(len(b)))
	})
	s := &Server{Name: "t", Handler: h, TLS: cfg, Log: slog.New(slog.DiscardHandler), DrainTime: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func testCert(t *testing.T) tls.Certificate {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	defer ts.Close()
	return ts.TLS.Certificates[0]
}

// exchange writes raw on a fresh connection and returns everything the
// server sent until it closed the connection (or went quiet).
func exchange(t *testing.T, addr string, tlsOn bool, raw string) (string, bool) {
	t.Helper()
	var c net.Conn
	var err error
	if tlsOn {
		c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test only
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(c)
	closed := err == nil // EOF: the server closed the connection
	return string(b), closed
}

// Go's net/http takes a bare LF as a line end; a front proxy splitting
// on CRLF only sees other requests or headers than authgate does. Heads
// with a bare LF get 400 and a closed connection, on plain and TLS
// listeners, on the first or a later request of a kept-alive connection;
// bodies (which may hold any bytes) are not heads.
func TestAttack_BareLFRequestHead(t *testing.T) {
	plain := startStrict(t, nil)
	tlsAddr := startStrict(t, &tls.Config{Certificates: []tls.Certificate{testCert(t)}})
	ok := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	post := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\na\nb\n\nc"
	chunked := "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\na\n\nb\n\r\n3;ext=1\r\n\n\nx\r\n0\r\nT: v\r\n\r\n"
	for _, tc := range []struct {
		name  string
		raw   string
		want  []string // status lines in order
		close bool
	}{
		{"bare LF everywhere", "GET / HTTP/1.1\nHost: x\n\n", []string{"400"}, true},
		{"bare LF after the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", []string{"400"}, true},
		{"bare LF in a header line", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\nX-B: 2\r\n\r\n", []string{"400"}, true},
		{"bare LF ending the head", "GET / HTTP/1.1\r\nHost: x\r\n\n", []string{"400"}, true},
		{"bare LF on the second request", ok + "GET / HTTP/1.1\nHost: x\n\n", []string{"200", "400"}, true},
		{"bare LF after a Content-Length body", post + "GET / HTTP/1.1\nHost: x\n\n", []string{"200", "400"}, true},
		{"bare LF after a chunked body", chunked + "GET / HTTP/1.1\nHost: x\n\n", []string{"200", "400"}, true},
		{"CRLF heads, LF in bodies", ok + post + chunked + "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", []string{"200", "200", "200", "200"}, true},
	} {
		for _, on := range []bool{false, true} {
			addr := plain
			if on {
				addr = tlsAddr
			}
			t.Run(tc.name+" tls="+strconv.FormatBool(on), func(t *testing.T) {
				out, closed := exchange(t, addr, on, tc.raw)
				var got []string
				rd := bufio.NewReader(strings.NewReader(out))
				for {
					resp, err := http.ReadResponse(rd, nil)
					if err != nil {
						break
					}
					body, _ := io.ReadAll(resp.Body)
					got = append(got, strconv.Itoa(resp.StatusCode))
					if resp.StatusCode == 200 && !strings.Contains(string(body), "tls="+strconv.FormatBool(on)) {
						t.Errorf("r.TLS not as the connection: %s", body)
					}
				}
				if strings.Join(got, ",") != strings.Join(tc.want, ",") {
					t.Fatalf("statuses %v, want %v; raw answer:\n%s", got, tc.want, out)
				}
				if tc.close && !closed {
					t.Fatal("connection left open")
				}
			})
		}
	}
	// Bodies are counted right: the 7-byte and 8-byte bodies above.
	out, _ := exchange(t, plain, false, post+strings.Replace(chunked, "Host: x", "Host: x\r\nConnection: close", 1))
	if !strings.Contains(out, "body=7") || !strings.Contains(out, "body=8") {
		t.Fatalf("bodies: %s", out)
	}
}

// HTTP/2 connections (ALPN h2) bypass the HTTP/1 head check and keep
// their TLS state; HTTP/1.1 over TLS keeps it too.
func TestStrictListenerKeepsHTTP2AndTLSState(t *testing.T) {
	addr := startStrict(t, &tls.Config{Certificates: []tls.Certificate{testCert(t)}, NextProtos: []string{"h2", "http/1.1"}})
	for _, h2 := range []bool{true, false} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: h2} //nolint:gosec // test only
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := "HTTP/1.1 tls=true"
		if h2 {
			want = "HTTP/2.0 tls=true"
		}
		if !strings.HasPrefix(string(b), want) {
			t.Errorf("h2=%v: %s, want %s", h2, b, want)
		}
	}
}

// The scanner decides the same however the stream is split into reads
// (TLS records and TCP segments split it anywhere).
func TestHeadScannerSplitAnywhere(t *testing.T) {
	post := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\na\nb\n\nc"
	chunked := "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\na\n\nb\n\r\n3;ext=1\r\n\n\nx\r\n0\r\nT: v\r\n\r\n"
	for _, tc := range []struct {
		stream string
		bad    bool
	}{
		{"\r\n" + post + chunked + "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{post + chunked + "GET / HTTP/1.1\r\nHost: x\n\r\n", true},
		{chunked + "GET /\n", true},
	} {
		for size := 1; size <= len(tc.stream); size++ {
			var s headScanner
			var err error
			for i := 0; i < len(tc.stream) && err == nil; i += size {
				_, err = s.feed([]byte(tc.stream[i:min(i+size, len(tc.stream))]))
			}
			if (err != nil) != tc.bad || s.off {
				t.Fatalf("reads of %d bytes: err %v off %v, want bad=%v", size, err, s.off, tc.bad)
			}
		}
	}
}
