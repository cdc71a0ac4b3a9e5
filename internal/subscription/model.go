package subscription

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/core"
)

// Document collections owned by this package.
const (
	CollectionResources     = "subscription.resources"
	CollectionPlans         = "subscription.plans"
	CollectionSubscriptions = "subscription.subscriptions"
)

// Schemes are the authentication schemes an adapter reports in
// core.Access.Scheme and a resource may accept.
var Schemes = []string{"bearer", "tpv", "wss", "apstrata", "pop", "mtls"}

// Resource is a named API resource: the routes it covers and the
// authentication schemes it accepts.
type Resource struct {
	Name         string    `json:"name"`
	Description  string    `json:"description,omitempty"`
	PathPrefixes []string  `json:"path_prefixes"`
	Methods      []string  `json:"methods,omitempty"` // empty: every method
	Schemes      []string  `json:"schemes,omitempty"` // empty: every scheme
	CreatedAt    time.Time `json:"created_at"`
}

// Duration is a time.Duration written as a Go duration string ("1m", "24h").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string (or a number of seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration must be a string like \"1m\" or a number of seconds")
		}
		*d = Duration(time.Duration(n) * time.Second)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Plan limits a subscription: at most Rate requests per RatePeriod and
// Quota requests per QuotaPeriod (0 means no such limit).
type Plan struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Rate        int64     `json:"rate,omitempty"`
	RatePeriod  Duration  `json:"rate_period,omitempty"`
	Quota       int64     `json:"quota,omitempty"`
	QuotaPeriod Duration  `json:"quota_period,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// Subscription lets an organisation (PrincipalID "") or one principal of
// it use a resource, under a plan ("" for unlimited).
type Subscription struct {
	ID          string    `json:"id"`
	OrgID       string    `json:"org_id"`
	PrincipalID string    `json:"principal_id,omitempty"`
	Resource    string    `json:"resource"`
	Plan        string    `json:"plan,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// subscriptionDocID is the document id of the (unique) subscription of a
// subject to a resource, so Allow finds it with one keyed read.
func subscriptionDocID(resource, orgID, principalID string) string {
	return resource + "|" + orgID + "|" + principalID
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// reservedNames cannot name a resource: they are scopes already.
var reservedNames = []string{"admin"}

func validName(what, n string) error {
	if !nameRE.MatchString(n) {
		return core.E(core.KindInvalidInput, what+" name must be 1 to 64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
	}
	return nil
}

var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// normalise checks a resource and puts its lists in canonical form.
func (r *Resource) normalise() error {
	if err := validName("resource", r.Name); err != nil {
		return err
	}
	if slices.Contains(reservedNames, r.Name) {
		return core.E(core.KindInvalidInput, "resource name "+r.Name+" is reserved")
	}
	if len(r.Description) > 1000 {
		return core.E(core.KindInvalidInput, "description must be at most 1000 characters")
	}
	if len(r.PathPrefixes) == 0 || len(r.PathPrefixes) > 32 {
		return core.E(core.KindInvalidInput, "a resource needs 1 to 32 path prefixes")
	}
	for i, p := range r.PathPrefixes {
		if !strings.HasPrefix(p, "/") || len(p) > 256 || strings.ContainsAny(p, "?# \t\r\n") {
			return core.E(core.KindInvalidInput, fmt.Sprintf("path prefix %q must be an absolute path without query", p))
		}
		if len(p) > 1 {
			r.PathPrefixes[i] = strings.TrimSuffix(p, "/")
		}
	}
	for i, m := range r.Methods {
		m = strings.ToUpper(m)
		if !slices.Contains(methods, m) {
			return core.E(core.KindInvalidInput, "unknown method "+m)
		}
		r.Methods[i] = m
	}
	for i, s := range r.Schemes {
		s = strings.ToLower(s)
		if !slices.Contains(Schemes, s) {
			return core.E(core.KindInvalidInput, "unknown scheme "+s+" (use "+strings.Join(Schemes, ", ")+")")
		}
		r.Schemes[i] = s
	}
	slices.Sort(r.Methods)
	r.Methods = slices.Compact(r.Methods)
	slices.Sort(r.Schemes)
	r.Schemes = slices.Compact(r.Schemes)
	return nil
}

// matchLen returns the length of the longest prefix of r matching path at
// a segment boundary ("/api/v1/tpv" covers "/api/v1/tpv/x", not
// "/api/v1/tpvx"), or -1.
func (r *Resource) matchLen(method, path string) int {
	if len(r.Methods) > 0 && !slices.Contains(r.Methods, method) {
		return -1
	}
	best := -1
	for _, p := range r.PathPrefixes {
		if p == "/" || path == p || (strings.HasPrefix(path, p) && path[len(p)] == '/') {
			best = max(best, len(p))
		}
	}
	return best
}

// MaxPeriod bounds rate and quota periods (a year).
const MaxPeriod = 366 * 24 * time.Hour

func (p *Plan) normalise() error {
	if err := validName("plan", p.Name); err != nil {
		return err
	}
	if p.Rate < 0 || p.Quota < 0 {
		return core.E(core.KindInvalidInput, "rate and quota must not be negative")
	}
	if p.Rate > 0 && p.RatePeriod == 0 {
		p.RatePeriod = Duration(time.Second)
	}
	if p.Quota > 0 && p.QuotaPeriod == 0 {
		p.QuotaPeriod = Duration(24 * time.Hour)
	}
	for _, d := range []Duration{p.RatePeriod, p.QuotaPeriod} {
		if d != 0 && (time.Duration(d) < time.Second || time.Duration(d) > MaxPeriod || time.Duration(d)%time.Second != 0) {
			return core.E(core.KindInvalidInput, "periods must be whole seconds between 1s and 8784h")
		}
	}
	return nil
}
