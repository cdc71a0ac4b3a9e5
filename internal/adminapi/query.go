package adminapi

import (
	"net/url"
	"strconv"

	"github.com/authgate/authgate/internal/core"
)

// Page sizes of the listings, which page with an offset cursor.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// PageParams are the documented paging parameters of every listing.
var PageParams = []Param{
	{"limit", "page size, 1 to " + strconv.Itoa(MaxLimit) + " (default " + strconv.Itoa(DefaultLimit) + ")", "integer"},
	{"cursor", "the next_cursor of the previous page", "string"},
}

// Query returns req's query parameters, refusing one that is not among
// names (nor limit and cursor, always allowed), given twice, or longer
// than 256 bytes.
func (r *Request) Query(names ...string) (url.Values, error) {
	q := r.HTTP.URL.Query()
	for k, v := range q {
		known := k == "limit" || k == "cursor"
		for _, n := range names {
			known = known || k == n
		}
		switch {
		case !known:
			return nil, core.E(core.KindInvalidInput, "unknown parameter "+strconv.Quote(core.LogSafe(k, 64)))
		case len(v) > 1:
			return nil, core.E(core.KindInvalidInput, "parameter "+k+" given more than once")
		case len(v[0]) > 256:
			return nil, core.E(core.KindInvalidInput, "parameter "+k+" is too long")
		}
	}
	return q, nil
}

// PageOf reads limit and cursor (an offset the previous page answered as
// next_cursor).
func PageOf(q url.Values) (core.Page, error) {
	p := core.Page{Limit: DefaultLimit}
	var err error
	if v := q.Get("limit"); v != "" {
		if p.Limit, err = strconv.Atoi(v); err != nil || p.Limit < 1 || p.Limit > MaxLimit {
			return p, core.E(core.KindInvalidInput, "limit must be between 1 and "+strconv.Itoa(MaxLimit))
		}
	}
	if v := q.Get("cursor"); v != "" {
		if p.Offset, err = strconv.Atoi(v); err != nil || p.Offset < 1 {
			return p, core.E(core.KindInvalidInput, "cursor must be the next_cursor of a previous page")
		}
	}
	return p, nil
}

// PageQuery is Query and PageOf at once.
func (r *Request) PageQuery(names ...string) (url.Values, core.Page, error) {
	q, err := r.Query(names...)
	if err != nil {
		return nil, core.Page{}, err
	}
	p, err := PageOf(q)
	return q, p, err
}

// BoolOf reads a boolean parameter ("" is false).
func BoolOf(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, core.E(core.KindInvalidInput, name+" must be true or false")
	}
	return b, nil
}

// Paged answers one page of a listing of total items read at p, with the
// cursor of the next page when one follows.
func Paged[T any](items []T, total int, p core.Page) List[T] {
	l := NewList(items)
	l.Total = total
	if next := p.Offset + len(items); len(items) > 0 && next < total {
		l.NextCursor = strconv.Itoa(next)
	}
	return l
}
