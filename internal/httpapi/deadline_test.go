package httpapi

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// recordingConn counts the deadlines applied to it.
type recordingConn struct {
	net.Conn
	reads, writes []time.Time
}

func (c *recordingConn) SetReadDeadline(t time.Time) error {
	c.reads = append(c.reads, t)
	return c.Conn.SetReadDeadline(t)
}

func (c *recordingConn) SetWriteDeadline(t time.Time) error {
	c.writes = append(c.writes, t)
	return c.Conn.SetWriteDeadline(t)
}

// TestLazyDeadlineApplied: headConn applies a deadline when a read or
// write starts, at once to one under way (a future one and a past one
// both interrupt a blocked read), and skips only renewals that move a
// deadline later by a small part of what is left of it.
func TestLazyDeadlineApplied(t *testing.T) {
	t.Run("set before a read", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		c := &headConn{Conn: a}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read after a deadline: %v, want the deadline", err)
		}
	})
	// A deadline already passed when set (net/http's abort of its
	// background read sets one long ago) fails the next read and write
	// at once, though the peer has data ready and is reading.
	t.Run("passed, set before a read and a write", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		go func() { _, _ = b.Write([]byte("x")) }()
		go func() { _, _ = io.Copy(io.Discard, b) }()
		c := &headConn{Conn: a}
		defer c.Close()
		for _, at := range []time.Time{time.Unix(1, 0), time.Now().Add(-time.Millisecond)} {
			_ = c.SetDeadline(at)
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read after a deadline of %v: %v, want the deadline", at, err)
			}
			if _, err := c.Write([]byte("y")); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("write after a deadline of %v: %v, want the deadline", at, err)
			}
		}
	})
	for name, at := range map[string]time.Duration{"future": 50 * time.Millisecond, "past": -time.Hour} {
		t.Run("set during a read, "+name, func(t *testing.T) {
			a, b := net.Pipe()
			defer b.Close()
			c := &headConn{Conn: a}
			defer c.Close()
			done := make(chan error, 1)
			go func() {
				_, err := c.Read(make([]byte, 1))
				done <- err
			}()
			waitUntil(t, "read under way", func() bool {
				c.rd.mu.Lock()
				defer c.rd.mu.Unlock()
				return c.rd.busy == 1
			})
			_ = c.SetReadDeadline(time.Now().Add(at))
			if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("blocked read: %v, want the deadline", err)
			}
		})
	}
	t.Run("renewals", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		go func() { _, _ = io.Copy(io.Discard, b) }()
		rec := &recordingConn{Conn: a}
		c := &headConn{Conn: rec}
		defer c.Close()
		write := func() {
			t.Helper()
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		base := time.Now().Add(time.Minute)
		_ = c.SetWriteDeadline(base)
		write()
		// As net/http does per request: cleared, renewed a little later.
		for i := range 10 {
			_ = c.SetWriteDeadline(time.Time{})
			_ = c.SetWriteDeadline(base.Add(time.Duration(i+1) * time.Millisecond))
			write()
		}
		if len(rec.writes) != 1 {
			t.Fatalf("%d write deadlines applied for one renewed 10 times by 1 ms, want 1", len(rec.writes))
		}
		_ = c.SetWriteDeadline(base.Add(-time.Second)) // earlier: applied
		write()
		_ = c.SetWriteDeadline(base.Add(10 * time.Second)) // much later: applied
		write()
		_ = c.SetWriteDeadline(time.Time{}) // none: applied
		write()
		_ = c.SetWriteDeadline(time.Now().Add(time.Hour)) // set and replaced before any write: never applied
		_ = c.SetWriteDeadline(time.Time{})
		write()
		if want := []time.Time{base, base.Add(-time.Second), base.Add(10 * time.Second), {}}; !equalTimes(rec.writes, want) {
			t.Fatalf("write deadlines applied %v, want %v", rec.writes, want)
		}
		if len(rec.reads) != 0 {
			t.Fatalf("read deadlines applied without a read: %v", rec.reads)
		}
	})
}

func equalTimes(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// TestAttack_SlowHeadIsCut: a head trickling in a byte at a time, on a
// fresh connection and on a kept-alive one after a served request, is
// cut at read_header_timeout (the connection closes while the client is
// still sending), with the deadlines applied lazily.
func TestAttack_SlowHeadIsCut(t *testing.T) {
	for _, keptAlive := range []bool{false, true} {
		name := "fresh connection"
		if keptAlive {
			name = "kept-alive connection"
		}
		t.Run(name, func(t *testing.T) {
			addr := startStrictLimits(t, Limits{ReadHeaderTimeout: time.Second})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(60 * time.Second)) // the test's own bound
			br := bufio.NewReader(c)
			if keptAlive {
				if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
					t.Fatalf("first request: %q %v", line, err)
				}
			}
			cut := make(chan struct{})
			go func() {
				defer close(cut)
				for {
					if _, err := br.ReadByte(); err != nil {
						return
					}
				}
			}()
			head := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 600) + "\r\n\r\n"
			for i := 0; i < len(head); i++ {
				select {
				case <-cut:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := c.Write([]byte{head[i]}); err != nil {
					return // closed by the server
				}
			}
			t.Fatal("a head trickled for a minute was read in whole")
		})
	}
}

// startStrictLimits serves an "ok" handler on a plain Server with lim.
func startStrictLimits(t *testing.T, lim Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	s := &Server{Name: "t", Handler: h, Log: slog.New(slog.DiscardHandler), Limits: lim, DrainTime: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}
