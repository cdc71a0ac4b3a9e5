// Package authgate holds the operator documentation, README.md and
// docs/*.md, embedded so the binary can quote it: `authgate config
// example` comments every key with the meaning its documentation table
// gives (the tables a test keeps complete).
package authgate

import "embed"

// Docs is README.md and docs/*.md.
//
//go:embed README.md docs/*.md
var Docs embed.FS
