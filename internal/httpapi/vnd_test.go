package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestNegotiateVnd(t *testing.T) {
	tests := []struct {
		accept, want string
	}{
		{"", "application/vnd.imgtec.accesskeys+json"},
		{"application/json", "application/json"},
		{"application/vnd.imgtec.accesskey+json", "application/vnd.imgtec.accesskey+json"},
		{"application/vnd.imgtec.com.accesskey+json", "application/vnd.imgtec.com.accesskey+json"},
		{"application/vnd.imgtec.other+json, application/json", "application/json"},
		{"application/vnd.imgtec.accesskey+json;q=0", "application/vnd.imgtec.accesskeys+json"},
		{"text/html", "application/vnd.imgtec.accesskeys+json"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/accesskeys", nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		if got := NegotiateVnd(r, "accesskeys", "accesskey"); got != tt.want {
			t.Errorf("Accept %q: %q, want %q", tt.accept, got, tt.want)
		}
	}
}

func TestAcceptsVndBody(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true,
		"application/vnd.imgtec.accesskey+json": true, "application/vnd.imgtec.com.accesskey+json": true,
		"application/vnd.imgtec.identity+json": false, "text/plain": false, "": false, "application/vnd.imgtec.+json": false,
	} {
		r := httptest.NewRequest("POST", "/accesskeys", nil)
		r.Header.Set("Content-Type", ct)
		if got := AcceptsVndBody(r, "accesskey", "accesskeys"); got != want {
			t.Errorf("Content-Type %q: %v, want %v", ct, got, want)
		}
	}
}
