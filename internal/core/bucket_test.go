package core

import (
	"crypto/rsa"
	"math/big"
	"testing"
	"time"
)

func TestAddressBuckets(t *testing.T) {
	clock := NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	b := NewAddressBuckets(clock, 1, 2, 3)
	for i := 0; i < 2; i++ {
		if err := b.Allow("192.0.2.1"); err != nil {
			t.Fatalf("burst %d: %v", i, err)
		}
	}
	err := b.Allow("192.0.2.1")
	if KindOf(err) != KindRateLimited || RetryAfterOf(err) <= 0 {
		t.Fatalf("over the burst: %v", err)
	}
	// Other addresses have their own budget; one IPv6 /64 shares one.
	if err := b.Allow("192.0.2.2"); err != nil {
		t.Fatal(err)
	}
	_ = b.Allow("2001:db8::1")
	_ = b.Allow("2001:db8::2")
	if err := b.Allow("2001:db8::3"); KindOf(err) != KindRateLimited {
		t.Fatalf("a third address of one /64 got its own bucket: %v", err)
	}
	// The table is full (3 keys) of limited addresses: a new one is refused...
	if err := b.Allow("198.51.100.1"); KindOf(err) != KindRateLimited {
		t.Fatalf("new address with a full table: %v", err)
	}
	// ...until buckets have refilled and can be forgotten.
	clock.Advance(3 * time.Second)
	if err := b.Allow("198.51.100.1"); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	if err := b.Allow("192.0.2.1"); err != nil {
		t.Fatalf("refilled address: %v", err)
	}
}

func TestCheckRSAKey(t *testing.T) {
	key := func(bits, e int) *rsa.PublicKey {
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		return &rsa.PublicKey{N: n.SetBit(n, 0, 1), E: e}
	}
	for _, tt := range []struct {
		k  *rsa.PublicKey
		ok bool
	}{
		{key(2048, 65537), true}, {key(3072, 3), true}, {key(4096, 65537), true},
		{key(2047, 65537), false}, {key(4097, 65537), false}, {key(8192, 65537), false}, {key(45000, 65537), false},
		{key(2048, 65536), false}, {key(2048, 1), false}, {nil, false}, {&rsa.PublicKey{}, false},
	} {
		if err := CheckRSAKey(tt.k); (err == nil) != tt.ok || err != nil && KindOf(err) != KindInvalidInput {
			t.Errorf("CheckRSAKey(%v) = %v", tt.k, err)
		}
	}
}
