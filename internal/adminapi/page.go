package adminapi

import "github.com/authgate/authgate/internal/core"

// PagedResult is a Handle's answer of one page of a listing read at p
// (Paged), or the listing's error.
func PagedResult[T any](items []T, total int, p core.Page, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return Paged(items, total, p), nil
}
