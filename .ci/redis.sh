#!/usr/bin/env bash
# The redisstore module's checks: vet, staticcheck and its tests, on a Redis single
# node (127.0.0.1:6379) and a local 3-master Cluster with a replica each (ports
# 7000-7005). Each is started, in a temporary directory, when it does not answer, and
# what this script started is stopped when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d)
started=() # the pid files of the servers this script started
stop() {
	local pids=()
	for pidfile in "${started[@]}"; do
		if [ -f "$pidfile" ]; then pids+=("$(cat "$pidfile")"); fi
	done
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do # wait for each to exit, so that the ports are free again
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	done
	rm -rf "$dir"
}
trap stop EXIT

answers() { [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; }

# serve PORT [ARGS...]: start a redis-server on PORT that keeps nothing on disk.
serve() {
	local port=$1
	shift
	redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
		--dir "$dir" --pidfile "$dir/$port.pid" --logfile "$dir/$port.log" "$@"
	started+=("$dir/$port.pid")
	for _ in $(seq 50); do answers "$port" && return; sleep 0.1; done
	echo "redis-server on port $port did not start:" >&2
	cat "$dir/$port.log" >&2
	exit 1
}

if ! answers 6379; then
	serve 6379
fi

cluster_ok() { redis-cli -p 7000 cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }
if ! cluster_ok; then
	ports=(7000 7001 7002 7003 7004 7005)
	for port in "${ports[@]}"; do
		if answers "$port"; then
			echo "port $port answers but is no working Cluster node; stop it or free ports 7000-7005" >&2
			exit 1
		fi
		# A short node timeout, so that a replica takes over a stopped master in
		# seconds rather than the default 15.
		serve "$port" --cluster-enabled yes --cluster-config-file "$dir/nodes-$port.conf" --cluster-node-timeout 2000
	done
	redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas 1 --cluster-yes >/dev/null
	for _ in $(seq 100); do cluster_ok && break; sleep 0.1; done
	cluster_ok || { echo "the Cluster on ports 7000-7005 did not come up" >&2; exit 1; }
fi

# The root module never requires a Redis client.
if grep -q 'redis/rueidis' go.mod go.sum || go list -deps -test ./... | grep -q 'redis/rueidis'; then
	echo "the root module depends on rueidis" >&2
	exit 1
fi

# Nor do the Redis module's tests reach a SQL driver or goose: the adapter tables'
# SQL variants live apart from them (internal/adaptertest/allstores).
if go -C redisstore list -deps -test ./... | grep -E 'jackc/pgx|pressly/goose|modernc.org/sqlite|go-sql-driver/mysql'; then
	echo "the redisstore module's tests compile the SQL packages above" >&2
	exit 1
fi

go -C redisstore vet ./...
(cd redisstore && go tool -modfile=../tools/go.mod staticcheck ./...)
CI=${CI:-true} go -C redisstore test -count=1 -race ./...
