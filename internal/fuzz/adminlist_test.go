package fuzz

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/authgate/authgate/internal/adminapi"
	"github.com/authgate/authgate/internal/core"
)

// FuzzAdminListQuery: the admin API's listing parameters (every family's
// list routes read them): whatever is accepted names only the allowed
// parameters once each, within their bounds, and the page answered from it
// continues exactly where it ends.
func FuzzAdminListQuery(f *testing.F) {
	for _, s := range []string{"limit=10&cursor=20", "org=a&include_deleted=true", "limit=0", "cursor=-1", "limit=1001", "org=a&org=b",
		"x=1", "limit=%zz", "include_deleted=maybe", "cursor=99999999999999999999", "state=failed&env=TA"} {
		f.Add(s, 25)
	}
	f.Fuzz(func(t *testing.T, raw string, total int) {
		req := &adminapi.Request{HTTP: &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/admin/x", RawQuery: raw}}}
		q, p, err := req.PageQuery("org", "include_deleted", "state", "env")
		if err != nil {
			if core.KindOf(err) != core.KindInvalidInput {
				t.Fatalf("%q: %v is not an invalid input", raw, err)
			}
			return
		}
		for k, v := range q {
			switch k {
			case "org", "include_deleted", "state", "env", "limit", "cursor":
			default:
				t.Fatalf("%q: parameter %q accepted", raw, k)
			}
			if len(v) != 1 || len(v[0]) > 256 {
				t.Fatalf("%q: %s=%v accepted", raw, k, v)
			}
		}
		if p.Limit < 1 || p.Limit > adminapi.MaxLimit || p.Offset < 0 {
			t.Fatalf("%q: page %+v", raw, p)
		}
		if _, err := adminapi.BoolOf(q, "include_deleted"); err != nil && core.KindOf(err) != core.KindInvalidInput {
			t.Fatal(err)
		}
		total = max(total, 0) % 5000
		n := max(0, min(p.Limit, total-p.Offset))
		l := adminapi.Paged(make([]int, n), total, p)
		if more := p.Offset+n < total && n > 0; more != (l.NextCursor != "") || (more && l.NextCursor != strconv.Itoa(p.Offset+n)) {
			t.Fatalf("page %+v of %d: next cursor %q", p, total, l.NextCursor)
		}
		if l.Items == nil || l.Total != total {
			t.Fatalf("page %+v of %d: %+v", p, total, l)
		}
	})
}
