#!/usr/bin/env bash
# Counts user-space CPU instructions per request for each memory-store benchmark with
# perf, a figure that, unlike time, hardly moves when other processes load the
# machine. Where perf cannot count instructions (no hardware counters, as in many
# VMs), valgrind's callgrind counts them instead (its Ir, instructions executed),
# with GODEBUG=asyncpreemptoff=1,gcstoptheworld=1,cpu.rdtscp=off: asynchronous
# preemption's signals crash callgrind, a GC that stops the world is counted
# steadily, and the runtime's clock then reads RDTSC rather than RDTSCP, which
# valgrind 3.19 cannot run (SIGILL in runtime.cputicks on CPUs that have it). COUNTER=perf or
# COUNTER=callgrind chooses. Each benchmark runs twice, for N1 and N2 requests, and the difference of
# the two counts over N2-N1 is the cost of one request: setup cancels out. The
# output is in Go benchmark format, for benchstat and ./ratios.
#
#	bash instructions.sh [RUNS] > instructions.txt
#
# LIBS limits the libraries (default: baseline echosess scs gorilla baseline-v5
# echosess-v5 gorilla-v5), CASES the cases (default: Read Write Create Untouched); N1
# and N2 set the two run lengths.
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-3}
n1=${N1:-2000}
n2=${N2:-42000}
bin=$(mktemp -d)/bench.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" .

counter=${COUNTER:-}
if [ -z "$counter" ]; then
	counter=callgrind
	# perf stat succeeds even where it prints "<not supported>" for the count.
	if perf stat -x, -e instructions:u true 2>&1 | grep -Eq '^[0-9]+,'; then
		counter=perf
	fi
fi
cgout=$(dirname "$bin")/callgrind.out

# instructions N CASE LIB prints the instruction count of one run of N requests.
instructions() {
	local bench="^Benchmark$2\$/^lib=$3\$/^store=memory\$"
	if [ "$counter" = perf ]; then
		GOMAXPROCS=1 perf stat -x, -e instructions:u "$bin" -test.run='^$' \
			-test.bench="$bench" -test.benchtime="$1x" \
			2>&1 >/dev/null | awk -F, '/instructions/ {print $1}'
		return
	fi
	GODEBUG=asyncpreemptoff=1,gcstoptheworld=1,cpu.rdtscp=off GOMAXPROCS=1 valgrind --tool=callgrind \
		--collect-atstart=yes --callgrind-out-file="$cgout" "$bin" -test.run='^$' \
		-test.bench="$bench" -test.benchtime="$1x" >/dev/null 2>&1 ||
		{ echo "instructions.sh: $bench failed under callgrind" >&2; return 1; }
	awk '/^summary:/ {print $2}' "$cgout"
}

for _ in $(seq "$runs"); do
	for bench in ${CASES:-Read Write Create Untouched}; do
		for lib in ${LIBS:-baseline echosess scs gorilla baseline-v5 echosess-v5 gorilla-v5}; do
			a=$(instructions "$n1" "$bench" "$lib")
			b=$(instructions "$n2" "$bench" "$lib")
			echo "Benchmark$bench/lib=$lib/store=memory $((n2 - n1)) $(((b - a) / (n2 - n1))) instructions/op"
		done
	done
done
