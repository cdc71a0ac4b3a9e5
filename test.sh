#!/usr/bin/env bash
# Runs authgate's whole test suite on a clean machine: installs what the
# tests need (PostgreSQL server, php-cli, xmlsec1, node packages, chromium),
# starts a throwaway PostgreSQL on loopback, runs `go test ./...`, and stops
# everything again. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/usr/local/go/bin:$PATH"

# shellcheck source=scripts/deps.sh
. scripts/deps.sh
install_test_deps

# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
start_test_postgres          # exports AUTHGATE_TEST_POSTGRES (a postgres:// URL)
trap stop_test_postgres EXIT
export AUTHGATE_REQUIRE_POSTGRES=1   # the PostgreSQL tests fail instead of skipping

go vet ./...
# Everything but the PostgreSQL backend package, then that one verbosely so
# the log shows its conformance suite ran (it cannot skip: see pgtest).
go test -count=1 -timeout 20m "$@" $(go list ./... | grep -v '/internal/store/postgres$')
echo "--- PostgreSQL backend ($AUTHGATE_TEST_POSTGRES)"
go test -count=1 -timeout 10m -v "$@" ./internal/store/postgres/ | grep -E '^(=== RUN|[[:space:]]*--- |PASS|FAIL|ok)'
