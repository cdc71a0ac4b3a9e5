package httpapi

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/core"
)

func testCertificate(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// dialFrom opens a TLS connection to addr from the loopback address src.
func dialFrom(src, addr string) (*tls.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	_ = c.SetDeadline(time.Now().Add(60 * time.Second)) // the test's own bound
	if err := c.Handshake(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// post sends one complete request from src and returns the status.
func post(t *testing.T, src, addr, path string) int {
	t.Helper()
	c, err := dialFrom(src, addr)
	if err != nil {
		t.Fatalf("connect from %s: %v", src, err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("response to %s: %v", src, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitUntil polls cond (bounded; no timing is asserted).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAttack_SlowBodiesFromOneAddressDoNotStarveOthers: one address opens
// 50 TLS connections, each sending a request whose body trickles in a byte
// at a time. Before the fix they filled the listener's max_in_flight (30
// here) and every other client got 503 until ReadTimeout. Now the address
// keeps to its share: 20 connections are accepted (the rest closed at
// accept), 10 requests are in flight (the rest 503), a client at another
// address is served meanwhile, and the trickling bodies are cut by the
// body read deadline, after which the attacking address is served again.
func TestAttack_SlowBodiesFromOneAddressDoNotStarveOthers(t *testing.T) {
	const (
		attackers   = 50
		maxInFlight = 30
	)
	lim := Limits{MaxConnsPerAddr: 20, MaxInFlightPerAddr: 10, BodyReadTimeout: 5 * time.Second}
	var slowIn, slowOut, slowCut atomic.Int32
	var slowAtProbe atomic.Int32
	h := NewHandler(Options{MaxInFlight: maxInFlight, Limits: lim}, routes(func(mux *http.ServeMux) {
		mux.HandleFunc("POST /slow", func(w http.ResponseWriter, r *http.Request) {
			slowIn.Add(1)
			defer slowOut.Add(1)
			if _, err := io.ReadAll(r.Body); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					slowCut.Add(1)
				}
				WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "body not read"})
				return
			}
			t.Error("a trickled body arrived in whole")
		})
		mux.HandleFunc("POST /fast", func(w http.ResponseWriter, r *http.Request) {
			slowAtProbe.Store(slowIn.Load() - slowOut.Load())
			b, err := io.ReadAll(r.Body)
			if err != nil || string(b) != "hello" {
				WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "bad body"})
				return
			}
			WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
		})
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := &Server{Name: "test", Handler: h, TLS: &tls.Config{Certificates: []tls.Certificate{testCertificate(t)}},
		Log: slog.New(slog.DiscardHandler), Limits: lim, DrainTime: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })

	var refused, shed, cutOff atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialFrom("127.0.0.1", addr)
			if err != nil { // closed at accept: over the connection cap
				refused.Add(1)
				return
			}
			defer c.Close()
			if _, err := io.WriteString(c, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx"); err != nil {
				refused.Add(1)
				return
			}
			answer := make(chan int, 1)
			go func() {
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					answer <- 0
					return
				}
				resp.Body.Close()
				answer <- resp.StatusCode
			}()
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case st := <-answer:
					if st == http.StatusServiceUnavailable {
						shed.Add(1)
					} else {
						cutOff.Add(1)
					}
					return
				case <-tick.C:
					if _, err := c.Write([]byte("x")); err != nil {
						cutOff.Add(1)
						return
					}
				case <-stop:
					return
				}
			}
		}()
	}
	t.Cleanup(func() { close(stop); wg.Wait() })

	// Full strength: every connection accounted for, or the listener full.
	waitUntil(t, "attack at full strength", func() bool {
		in := slowIn.Load()
		return in == maxInFlight || in >= int32(lim.MaxInFlightPerAddr) && in+refused.Load()+shed.Load() == attackers
	})
	// Another address is served while they trickle.
	if st := post(t, "127.0.0.2", addr, "/fast"); st != http.StatusOK {
		t.Fatalf("client at another address during the attack: %d", st)
	}
	// The attack held its share: 10 slow requests in flight, 10 more
	// connections answered 503, 30 closed at accept.
	if n := slowAtProbe.Load(); n != int32(lim.MaxInFlightPerAddr) {
		t.Fatalf("the other client was served with %d slow requests in flight, want %d (the body deadline came first?)", n, lim.MaxInFlightPerAddr)
	}
	if refused.Load() != attackers-int32(lim.MaxConnsPerAddr) || shed.Load() != int32(lim.MaxConnsPerAddr-lim.MaxInFlightPerAddr) {
		t.Fatalf("%d connections closed at accept, %d requests shed; want %d and %d", refused.Load(), shed.Load(),
			attackers-lim.MaxConnsPerAddr, lim.MaxConnsPerAddr-lim.MaxInFlightPerAddr)
	}
	// The body deadline cuts every trickling request.
	waitUntil(t, "slow bodies cut", func() bool { return slowOut.Load() == int32(lim.MaxInFlightPerAddr) })
	if slowCut.Load() != int32(lim.MaxInFlightPerAddr) {
		t.Fatalf("%d of %d slow bodies ended by the read deadline", slowCut.Load(), lim.MaxInFlightPerAddr)
	}
	waitUntil(t, "attackers answered", func() bool { return cutOff.Load() == int32(lim.MaxInFlightPerAddr) })
	// Their slots are free again: the attacking address itself is served.
	waitUntil(t, "attacking address served again", func() bool { return post(t, "127.0.0.1", addr, "/fast") == http.StatusOK })
}

func TestLimitListenerCountsPerAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var cut atomic.Int32
	trusted, _ := ParsePrefixes([]string{"127.0.0.3"})
	l := LimitListener(ln, 2, ClientAddr{Trusted: trusted}, func() { cut.Add(1) })
	defer l.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func(src string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial("127.0.0.1")
	dial("127.0.0.1")
	a1, a2 := <-accepted, <-accepted
	dial("127.0.0.1") // over the cap: closed at accept
	waitUntil(t, "third connection refused", func() bool { return cut.Load() == 1 })
	dial("127.0.0.2") // another address has its own count
	<-accepted
	for range 3 { // a trusted proxy is not counted
		dial("127.0.0.3")
		<-accepted
	}
	a1.Close()
	a1.Close() // closing twice gives the slot back once
	dial("127.0.0.1")
	<-accepted
	dial("127.0.0.1")
	waitUntil(t, "cap holds after a slot was freed", func() bool { return cut.Load() == 2 })
	a2.Close()
}

func TestInFlightPerAddressBehindProxy(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	trusted, _ := ParsePrefixes([]string{"10.0.0.0/8"})
	h := NewHandler(Options{Limits: Limits{MaxInFlightPerAddr: 1, ClientAddr: ClientAddr{Trusted: trusted}}}, routes(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-release
		})
	}))
	req := func(xff string) *http.Request {
		r := httptest.NewRequest("GET", "/slow", nil)
		r.RemoteAddr = "10.1.1.1:1234"
		r.Header.Set("X-Forwarded-For", xff)
		return r
	}
	done := make(chan struct{})
	go func() { h.ServeHTTP(httptest.NewRecorder(), req("198.51.100.7")); close(done) }()
	<-entered
	// The same forwarded client is over its cap; another one behind the same proxy is not.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req("198.51.100.7"))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "this address") || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("second request of one client: %d %s", rec.Code, rec.Body.String())
	}
	go func() { h.ServeHTTP(httptest.NewRecorder(), req("198.51.100.8")) }()
	<-entered
	close(release)
	<-done
}

// The in-flight limit groups requests as core.AddressKey does (IPv4
// address, IPv6 /64, the raw peer otherwise), without formatting.
func TestInFlightKeyGroupsAsAddressKey(t *testing.T) {
	trusted, err := ParsePrefixes([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	c := ClientAddr{Trusted: trusted}
	reqs := []struct{ remote, xff string }{
		{"192.0.2.1:1", ""}, {"192.0.2.1:2", ""}, {"192.0.2.2:1", ""}, {"[::ffff:192.0.2.1]:3", ""},
		{"[2001:db8:1:2::1]:1", ""}, {"[2001:db8:1:2::ff]:1", ""}, {"[2001:db8:1:3::1]:1", ""},
		{"[fe80::1%eth0]:1", ""}, {"[fe80::2%eth1]:1", ""},
		{"10.1.1.1:1", "192.0.2.1"}, {"10.1.1.1:1", "2001:db8:1:2::7"}, {"10.1.1.1:1", "10.2.2.2"},
		{"pipe", ""}, {"other-pipe", ""},
	}
	for i, a := range reqs {
		for j, b := range reqs {
			ra, rb := httptest.NewRequest("GET", "/", nil), httptest.NewRequest("GET", "/", nil)
			ra.RemoteAddr, rb.RemoteAddr = a.remote, b.remote
			if a.xff != "" {
				ra.Header.Set("X-Forwarded-For", a.xff)
			}
			if b.xff != "" {
				rb.Header.Set("X-Forwarded-For", b.xff)
			}
			same := core.AddressKey(c.IP(ra)) == core.AddressKey(c.IP(rb))
			if got := inFlightKeyOf(c, ra) == inFlightKeyOf(c, rb); got != same {
				t.Errorf("%d %+v and %d %+v: same key %v, AddressKey says %v", i, a, j, b, got, same)
			}
		}
	}
}
