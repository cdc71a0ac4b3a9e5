package cli

import "crypto/tls"

// insecureTLS trusts any certificate: only for the generated development certificate in tests.
func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} } //nolint:gosec // test only
