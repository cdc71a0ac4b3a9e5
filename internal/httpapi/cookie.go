package httpapi

import (
	"net/http"
	"strings"
)

// ConsoleCookie is the admin console's session cookie (internal/console):
// it holds an access token, so nothing authgate forwards (the gateway's
// upstream requests) may carry it on.
const ConsoleCookie = "__Host-authgate_console"

// DropCookie removes the cookie name from h's Cookie headers, keeping the
// others as they were; a header left empty is removed.
func DropCookie(h http.Header, name string) {
	values := h.Values("Cookie")
	if len(values) == 0 {
		return
	}
	var kept []string
	for _, line := range values {
		var parts []string
		for _, p := range strings.Split(line, ";") {
			if n, _, _ := strings.Cut(p, "="); strings.TrimSpace(n) == name { // as a server reads names
				continue
			}
			parts = append(parts, p)
		}
		if l := strings.TrimSpace(strings.Join(parts, ";")); l != "" {
			kept = append(kept, l)
		}
	}
	h.Del("Cookie")
	for _, l := range kept {
		h.Add("Cookie", l)
	}
}
