#!/usr/bin/env bash
# Reliability checks (RELIABILITY.md): a fuzz smoke of every fuzz target and a short
# soak of echosess on PostgreSQL behind its memory cache that fails on any error. The
# outage, hostile-input, corrupted-row and contention tests run with the rest of the
# tests, in .ci/run's `go test -race ./...`.
#
# .ci/run calls it once .ci/sql.sh has exported ECHOSESS_POSTGRES_DSN:
#
#	bash .ci/reliability.sh
#
# Environment: ECHOSESS_POSTGRES_DSN (required), ECHOSESS_FUZZTIME (per fuzz target,
# default 20000x: a count of inputs, not a duration: a duration races the end of
# fuzzing in Go 1.26's coordinator, which then fails a target with "context deadline
# exceeded" and no input when a loaded machine starves its workers, golang/go#75804,
# fixed in Go 1.27), ECHOSESS_SOAK (soak duration, default 20s). About 2 minutes on
# two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${ECHOSESS_POSTGRES_DSN:?must name a PostgreSQL database; source .ci/sql.sh first}"
fuzztime=${ECHOSESS_FUZZTIME:-20000x}
soak=${ECHOSESS_SOAK:-20s}

step() { printf '\n--- reliability: %s\n' "$*"; }

step "fuzz smoke: each target for $fuzztime"
targets=$(go test -list '^Fuzz' ./internal/engine | grep '^Fuzz')
for target in $targets; do
	echo "$target"
	go test -run '^$' -fuzz "^${target}\$" -fuzztime="$fuzztime" -timeout 10m ./internal/engine
done

step "soak: $soak on PostgreSQL with the memory cache (-race), failing on any error"
(cd bench && go run -race ./load -store postgres -soak -d "$soak")
