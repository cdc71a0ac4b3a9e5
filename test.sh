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
go test -count=1 -timeout 20m "$@" ./...
