#!/usr/bin/env bash
# Counts instructions per iteration of benchmarks with valgrind's callgrind, for
# machines where perf cannot count them (instructions.sh). Each benchmark runs for N1
# and then N2 iterations with GOMAXPROCS=1, and the difference of the two counts over
# N2-N1 is the cost of one iteration: setup cancels out. GODEBUG turns off
# asynchronous preemption, whose signals crash callgrind, makes each GC stop the
# world, so that its work is counted steadily, and keeps the runtime from RDTSCP,
# which valgrind 3.19 cannot run. The output is in Go benchmark format,
# for benchstat.
#
#	bash callgrind.sh RUNS BIN 'BENCH' ['BENCH'...] > instructions.txt
#
# BIN is a test binary (go test -c); each BENCH is a -test.bench pattern that names one
# benchmark, such as '^BenchmarkStoreLoad$/^store=sqlite$/^lib=floor$'.
set -euo pipefail
runs=$1 bin=$2
shift 2
n1=${N1:-1000}
n2=${N2:-6000}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# instructions BENCH N prints callgrind's count of one run of N iterations.
instructions() {
	GODEBUG=asyncpreemptoff=1,gcstoptheworld=1,cpu.rdtscp=off GOMAXPROCS=1 valgrind --tool=callgrind \
		--callgrind-out-file="$out" "$bin" -test.run='^$' -test.bench="$1" -test.benchtime="$2x" \
		>/dev/null 2>&1
	awk '/^summary:/ {print $2}' "$out"
}

for _ in $(seq "$runs"); do
	for bench in "$@"; do
		a=$(instructions "$bench" "$n1")
		b=$(instructions "$bench" "$n2")
		name=$(tr -d '^$' <<<"$bench")
		echo "$name $((n2 - n1)) $(((b - a) / (n2 - n1))) instructions/op"
	done
done
