#!/usr/bin/env bash
# Smoke test of the comparison benchmarks in bench/ (a module of its own): checks
# formatting, vet and staticcheck, runs every benchmark once, drives each library's app over
# loopback HTTP for a second, and runs the module's tests. It asserts no timing.
# The Postgres cases run when ECHOSESS_POSTGRES_DSN is set and are skipped otherwise;
# the MySQL cases when ECHOSESS_MYSQL_DSN is set (.ci/sql.sh starts MariaDB and sets
# it), skipped otherwise, and failed without it under CI=true.
# The Redis cases need the Redis at 127.0.0.1:6379: it is started here, keeping
# nothing on disk, when it does not answer, and stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../bench"

if [ "$(redis-cli -p 6379 ping 2>/dev/null)" != PONG ]; then
	redis_dir=$(mktemp -d)
	redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
		--dir "$redis_dir" --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log"
	trap 'kill "$(cat "$redis_dir/redis.pid")"; rm -rf "$redis_dir"' EXIT
	for _ in $(seq 50); do [ "$(redis-cli -p 6379 ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
fi

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "bench: not gofmt-ed: $unformatted" >&2
	exit 1
fi
go vet ./...
go tool -modfile=../tools/go.mod staticcheck ./...
go test -count=1 -run='^$' -bench=. -benchtime=1x ./...
go run ./load -store memory -c 2 -d 1s -fail-on-error
go run ./load -store redis -c 2 -d 1s -fail-on-error
if [ -n "${ECHOSESS_POSTGRES_DSN:-}" ]; then
	go run ./load -store postgres -c 2 -d 1s -fail-on-error
fi
if [ -n "${ECHOSESS_MYSQL_DSN:-}" ]; then
	go run ./load -store mysql -c 2 -d 1s -fail-on-error
fi
go test -count=1 ./...
