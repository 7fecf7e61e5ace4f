#!/usr/bin/env bash
# Runs the measurements of BENCHMARKS.md's "Redis" section and writes them to a
# folder (default results/redis):
#   - the in-process benchmarks of echosess, scs and echo-contrib/gorilla on Redis,
#     COUNT runs of the suite (default 6), interleaved as run.sh does, with
#     benchstat and ratio tables;
#   - two app processes per library behind one client, 90% reads of n and 10%
#     writes, then read-only, with stale reads counted (bench/load -instances 2),
#     beside the baseline app without sessions, whose rate is the most that any
#     library could reach on this machine;
#   - the same with the client on a core of its own (pinned.sh);
#   - one instance in process, for comparison.
# Every command line goes to commands.txt before its output, and the load average
# is sampled every 10 s (loadavg.txt). The Redis is ECHOSESS_REDIS_ADDR (default
# 127.0.0.1:6379); each run's keys live under a fresh prefix, deleted at its end.
# D and ROUNDS set the 90/10 runs' length (default 30s in 3 rounds), RD and
# RROUNDS the read-only runs' (20s in 2): shorter ones make a quick check.
#
#	bash redis.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-results/redis}
count=${COUNT:-6}
d=${D:-30s} rounds=${ROUNDS:-3} rd=${RD:-20s} rrounds=${RROUNDS:-2}
benchstat=${BENCHSTAT:-$(go env GOPATH)/bin/benchstat}
addr=${ECHOSESS_REDIS_ADDR:-127.0.0.1:6379}
mkdir -p "$out"

source record.sh
echo "redis: $(redis-cli -h "${addr%:*}" -p "${addr##*:}" info server | grep -E '^redis_version' | tr -d '\r')" >> "$out/machine.txt"

# pinned FILE ARGS...: the same through pinned.sh.
pinned() {
	local file=$1
	shift
	echo "STORE=redis LIBS=$libs bash pinned.sh $file $*" >> "$out/commands.txt"
	STORE=redis LIBS=$libs bash pinned.sh "$out/$file" "$@"
	cat "$out/$file"
}

cases='^Benchmark(Read|Write|Create|Untouched)$/^lib=(echosess|scs|gorilla)$/^store=redis$'
echo "go test -c -o bench.test . && for run in \$(seq $count); do ./bench.test -test.run='^\$' -test.bench='$cases' -test.benchmem >> bench.txt; done" >> "$out/commands.txt"
go test -c -o "$out/bench.test" .
: > "$out/bench.txt"
for _ in $(seq "$count"); do
	"$out/bench.test" -test.run='^$' -test.bench="$cases" -test.benchmem >> "$out/bench.txt"
done
rm "$out/bench.test"
{
	echo "benchstat -col '/lib@(scs echosess)' bench.txt; benchstat -col '/lib@(gorilla echosess)' bench.txt; go run ./ratios < bench.txt > ratios.md"
} >> "$out/commands.txt"
{
	"$benchstat" -col '/lib@(scs echosess)' "$out/bench.txt"
	echo
	"$benchstat" -col '/lib@(gorilla echosess)' "$out/bench.txt"
} > "$out/benchstat.txt"
go run ./ratios < "$out/bench.txt" > "$out/ratios.md"
cat "$out/ratios.md"

libs=baseline,echosess,scs,gorilla
flags=(-store redis -redis "$addr" -libs "$libs" -c 8 -fail-on-error)
measure load-instances.txt "${flags[@]}" -instances 2 -d "$d" -rounds "$rounds" -stale-elsewhere-ok
measure load-instances-readonly.txt "${flags[@]}" -instances 2 -writes 0 -d "$rd" -rounds "$rrounds"
pinned load-instances-pinned.txt -d "$d" -rounds "$rounds"
pinned load-instances-readonly-pinned.txt -writes 0 -d "$rd" -rounds "$rrounds"
measure load-one-instance.txt "${flags[@]}" -d "$d" -rounds "$rounds"

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
