// Package doctest checks the documentation against the code: the
// walkthroughs in docs/*.md run as written against a real `authgate
// serve`, the sample identifiers they show are ones the server accepts,
// and every configuration key is documented. It has only tests.
package doctest
