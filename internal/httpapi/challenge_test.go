package httpapi

import (
	"net/url"
	"testing"
)

func TestChallenge(t *testing.T) {
	tests := []struct {
		scheme, code, desc string
		bare               bool
		want               string
	}{
		{"", "invalid_token", "token expired", false, `Bearer realm="authgate", error="invalid_token", error_description="token expired"`},
		{"", "invalid_token", "", false, `Bearer realm="authgate", error="invalid_token"`},
		{"", "invalid_token", "x", true, `Bearer realm="authgate"`},
		{"Basic", "invalid_client", "bad", false, `Basic realm="authgate"`},
		{"", "invalid_token", "quote\" back\\slash \x01ctl é", false, `Bearer realm="authgate", error="invalid_token", error_description="quote backslash ctl "`},
	}
	for _, tt := range tests {
		if got := Challenge(tt.scheme, tt.code, tt.desc, tt.bare); got != tt.want {
			t.Errorf("Challenge(%q, %q, %q, %v) = %s, want %s", tt.scheme, tt.code, tt.desc, tt.bare, got, tt.want)
		}
	}
}

func TestPaging(t *testing.T) {
	tests := []struct {
		query       string
		start, size int
		bad         bool
	}{
		{"", 0, 20, false},
		{"startIndex=5&pageSize=500", 5, 500, false},
		{"startIndex=-1", 0, 0, true},
		{"startIndex=x", 0, 0, true},
		{"pageSize=0", 0, 0, true},
		{"pageSize=501", 0, 0, true},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		start, size, reason := Paging(q, 20, 500)
		if start != tt.start || size != tt.size || (reason != "") != tt.bad {
			t.Errorf("%q: %d %d %q", tt.query, start, size, reason)
		}
	}
}
