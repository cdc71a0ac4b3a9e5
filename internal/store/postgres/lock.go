package postgres

import (
	"github.com/pressly/goose/v3/lock"
)

func newLocker() lock.SessionLocker {
	l, err := lock.NewPostgresSessionLocker()
	if err != nil {
		// Only fails on invalid options, and we pass none.
		panic(err)
	}
	return l
}
