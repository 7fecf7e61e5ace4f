#!/usr/bin/env bash
# Smoke test of the comparison benchmarks in bench/ (a module of its own): checks
# formatting and vet, runs every benchmark once, drives each library's app over
# loopback HTTP for a second, and runs the module's tests. It asserts no timing.
# The Postgres cases run when ECHOSESS_POSTGRES_DSN is set and are skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/../bench"

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "bench: not gofmt-ed: $unformatted" >&2
	exit 1
fi
go vet ./...
go test -count=1 -run='^$' -bench=. -benchtime=1x ./...
go run ./load -store memory -c 2 -d 1s -fail-on-error
if [ -n "${ECHOSESS_POSTGRES_DSN:-}" ]; then
	go run ./load -store postgres -c 2 -d 1s -fail-on-error
fi
go test -count=1 ./...
