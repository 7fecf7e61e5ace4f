#!/usr/bin/env bash
# Counts user-space CPU instructions per request for each memory-store benchmark with
# perf, a figure that, unlike time, hardly moves when other processes load the
# machine. Each benchmark runs twice, for N1 and N2 requests, and the difference of
# the two counts over N2-N1 is the cost of one request: setup cancels out. The
# output is in Go benchmark format, for benchstat and ./ratios.
#
#	bash instructions.sh [RUNS] > instructions.txt
#
# LIBS limits the libraries (default: baseline echosess scs gorilla); N1 and N2 set
# the two run lengths.
set -euo pipefail
cd "$(dirname "$0")"
runs=${1:-3}
n1=${N1:-2000}
n2=${N2:-42000}
bin=$(mktemp -d)/bench.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" .

# instructions N CASE LIB prints the instructions:u count of one run of N requests.
instructions() {
	GOMAXPROCS=1 perf stat -x, -e instructions:u "$bin" -test.run='^$' \
		-test.bench="^Benchmark$2\$/^lib=$3\$/^store=memory\$" -test.benchtime="$1x" \
		2>&1 >/dev/null | awk -F, '/instructions/ {print $1}'
}

for _ in $(seq "$runs"); do
	for bench in Read Write Create Untouched; do
		for lib in ${LIBS:-baseline echosess scs gorilla}; do
			a=$(instructions "$n1" "$bench" "$lib")
			b=$(instructions "$n2" "$bench" "$lib")
			echo "Benchmark$bench/lib=$lib/store=memory $((n2 - n1)) $(((b - a) / (n2 - n1))) instructions/op"
		done
	done
done
