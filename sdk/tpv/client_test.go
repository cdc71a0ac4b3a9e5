package tpv

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// replayServer answers the first `refusals` logins with the server's replay
// refusal, then logs in; it records each login's timestamp and the time
// it arrived.
type replayServer struct {
	mu       sync.Mutex
	refusals int
	stamps   []int64
	arrived  []int64
}

func (s *replayServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ts, _ := strconv.ParseInt(r.URL.Query().Get("timestamp"), 10, 64)
	s.mu.Lock()
	s.stamps = append(s.stamps, ts)
	s.arrived = append(s.arrived, time.Now().Unix())
	refuse := len(s.stamps) <= s.refusals
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if refuse {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msgLoginReplayed})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"auth_token": "tok", "expires_in": 1800})
}

// A login refused as a replay (another process signed the same second) is
// signed again with the next real second, after waiting for it, not with a
// timestamp in the future sent at once; and the retries are bounded.
func TestLoginReplayWaitsForTheNextSecond(t *testing.T) {
	t.Run("retried with the next real second", func(t *testing.T) {
		s := &replayServer{refusals: 1}
		srv := httptest.NewServer(s)
		defer srv.Close()
		c := &Client{BaseURL: srv.URL, AppToken: "app", AppSecret: "secret"}
		if _, err := c.Login(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(s.stamps) != 2 || s.stamps[1] <= s.stamps[0] {
			t.Fatalf("timestamps %v: want two, the second later", s.stamps)
		}
		if s.stamps[1] > s.arrived[1] {
			t.Fatalf("retry signed %d but sent at %d: a timestamp in the future", s.stamps[1], s.arrived[1])
		}
	})
	t.Run("bounded", func(t *testing.T) {
		s := &replayServer{refusals: 1 << 30}
		srv := httptest.NewServer(s)
		defer srv.Close()
		c := &Client{BaseURL: srv.URL, AppToken: "app", AppSecret: "secret"}
		_, err := c.Login(context.Background())
		if !isReplay(err, msgLoginReplayed) {
			t.Fatalf("want the replay refusal, got %v", err)
		}
		if len(s.stamps) != maxReplayRetries+1 {
			t.Fatalf("%d attempts, want %d", len(s.stamps), maxReplayRetries+1)
		}
	})
}

// CacheKey differs for another URL, application token or secret.
func TestCacheKey(t *testing.T) {
	base := &Client{BaseURL: "https://tpv.example", AppToken: "app", AppSecret: "secret"}
	seen := map[string]string{base.CacheKey(): "base"}
	for name, c := range map[string]*Client{
		"url":    {BaseURL: "https://other.example", AppToken: "app", AppSecret: "secret"},
		"token":  {BaseURL: "https://tpv.example", AppToken: "app2", AppSecret: "secret"},
		"secret": {BaseURL: "https://tpv.example", AppToken: "app", AppSecret: "secret2"},
	} {
		k := c.CacheKey()
		if prev, dup := seen[k]; dup {
			t.Fatalf("%s gives the same key as %s", name, prev)
		}
		seen[k] = name
	}
	if slash := (&Client{BaseURL: "https://tpv.example/", AppToken: "app", AppSecret: "secret"}); slash.CacheKey() != base.CacheKey() {
		t.Fatal("a trailing slash changes the key")
	}
}
