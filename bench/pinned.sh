#!/usr/bin/env bash
# A diagnostic of the two-instance load (BENCHMARKS.md, "Several instances on
# PostgreSQL"): the same run as instances.sh's first, but with the client on CPU 0
# and the app instances and PostgreSQL on CPU 1, so that the client, which is the
# same for every library and runs elsewhere in a deployment, takes no CPU from the
# servers. It moves every postgres process of this machine to CPU 1 for the run and
# gives them back both CPUs at the end. Linux, two CPUs or more, taskset (util-linux).
# Needs ECHOSESS_POSTGRES_DSN.
#
#	bash pinned.sh [OUT]    # writes OUT (default: standard output)
set -euo pipefail
cd "$(dirname "$0")"
: "${ECHOSESS_POSTGRES_DSN:?set ECHOSESS_POSTGRES_DSN}"
out=${1:-/dev/stdout}
libs=echosess-cache,echosess,scs
all=$(taskset -p $$ | awk '{print $NF}') # this shell's CPUs, given back to PostgreSQL at the end

bin=$(mktemp)
go build -o "$bin" ./load
pin_postgres() { for p in $(pgrep -x postgres); do taskset -a -p "$1" "$p" > /dev/null || true; done; }
trap 'pin_postgres "$all"; rm -f "$bin"' EXIT
pin_postgres 2 # mask 2: CPU 1; the postmaster's new backends inherit it

# The client starts on CPU 1, so that the instances it starts inherit it, and moves
# itself to CPU 0 once they all serve.
taskset -c 1 "$bin" -store postgres -instances 2 -libs "$libs" -c 8 -d 30s -rounds 3 -fail-on-error > "$out" &
client=$!
want=$((2 * $(tr ',' '\n' <<< "$libs" | wc -l)))
until [ "$(pgrep -P "$client" -f -- " -serve " | wc -l)" -ge "$want" ]; do
	kill -0 "$client" 2> /dev/null || break
	sleep 0.2
done
taskset -a -p -c 0 "$client" > /dev/null
wait "$client"
