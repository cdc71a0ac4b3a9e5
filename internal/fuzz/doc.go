// Package fuzz holds the go test -fuzz targets of the adapters' parsers of
// untrusted input (TPV, Apstrata, OAuth2, TAAP, the admin API's mount, the
// console's session). They live here, not beside
// the parsers, because the adapters' own test binaries link the SQLite
// driver through their store-backed tests: the fuzzer instruments every
// linked package for coverage, and resetting and reading the driver's
// counters after each input made those targets run a handful of inputs in
// 30 seconds. This package's test binary links no store (TestNoStoreLinked
// keeps it so). Run one target with, e.g.,
//
//	go test -run '^$' -fuzz '^FuzzTPVSalesRecord$' -fuzztime 30s ./internal/fuzz
package fuzz
