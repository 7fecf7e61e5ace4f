#!/usr/bin/env bash
# A diagnostic of the two-instance load (BENCHMARKS.md, "Several instances on
# PostgreSQL" and "Redis"): the same run as instances.sh's first (or redis.sh's),
# but with the client on CPU 0 and the app instances and the database on CPU 1, so
# that the client, which is the same for every library and runs elsewhere in a
# deployment, takes no CPU from the servers. It moves the database's processes to
# CPU 1 for the run and gives them back both CPUs at the end: on Postgres every
# postgres process of this machine, on Redis the redis-server at ECHOSESS_REDIS_ADDR
# (default 127.0.0.1:6379). Linux, two CPUs or more, taskset (util-linux). Postgres
# needs ECHOSESS_POSTGRES_DSN.
#
#	bash pinned.sh [OUT [LOAD FLAGS...]]    # writes OUT (default: standard output)
#	STORE=redis bash pinned.sh OUT -writes 0 -d 20s -rounds 2
#
# LOAD FLAGS come after the defaults below, so they override them; LIBS sets -libs.
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-/dev/stdout}
shift || true
store=${STORE:-postgres}
case $store in
postgres)
	: "${ECHOSESS_POSTGRES_DSN:?set ECHOSESS_POSTGRES_DSN}"
	libs=${LIBS:-echosess-cache,echosess,scs}
	flags=(-fail-on-error)
	db_pids() { pgrep -x postgres; }
	;;
redis)
	libs=${LIBS:-echosess,scs,gorilla}
	port=${ECHOSESS_REDIS_ADDR:-127.0.0.1:6379}
	port=${port##*:}
	# Another instance's client-side cache may serve a read that the writer's
	# instance has answered newer (the load counts both): only stale reads at the
	# writer fail the run.
	flags=(-fail-on-error -stale-elsewhere-ok)
	# The redis-server whose title ends in the port: a Cluster's nodes on other
	# ports are left alone.
	db_pids() {
		for p in $(pgrep -x redis-server); do
			if tr '\0' ' ' < "/proc/$p/cmdline" | grep -Eq ":$port *$"; then echo "$p"; fi
		done
	}
	;;
*)
	echo "STORE must be postgres or redis" >&2
	exit 1
	;;
esac
all=$(taskset -p $$ | awk '{print $NF}') # this shell's CPUs, given back to the database at the end

bin=$(mktemp)
go build -o "$bin" ./load
pin_db() { for p in $(db_pids); do taskset -a -p "$1" "$p" > /dev/null || true; done; }
trap 'pin_db "$all"; rm -f "$bin"' EXIT
pin_db 2 # mask 2: CPU 1; the postmaster's new backends inherit it

# The client starts on CPU 1, so that the instances it starts inherit it, and moves
# itself to CPU 0 once they all serve.
taskset -c 1 "$bin" -store "$store" -instances 2 -libs "$libs" -c 8 -d 30s -rounds 3 "${flags[@]}" "$@" > "$out" &
client=$!
want=$((2 * $(tr ',' '\n' <<< "$libs" | wc -l)))
until [ "$(pgrep -P "$client" -f -- " -serve " | wc -l)" -ge "$want" ]; do
	kill -0 "$client" 2> /dev/null || break
	sleep 0.2
done
taskset -a -p -c 0 "$client" > /dev/null
wait "$client"
