#!/usr/bin/env bash
# Runs the measurements behind BENCHMARKS.md and writes them to a folder (default
# results/): six runs of every benchmark (interleaved: the whole suite runs six times,
# so that load from other processes spreads over all libraries), benchstat tables (the
# HTTP cases per store, and the SQL stores' Load and Save beside their floors),
# the ratio tables, instructions per request (perf, or callgrind where perf cannot
# count them), and the load
# runs. The Postgres cases need ECHOSESS_POSTGRES_DSN.
#
#	bash run.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-results}
count=${COUNT:-6}
benchstat=${BENCHSTAT:-$(go env GOPATH)/bin/benchstat}
mkdir -p "$out"

bash machine.sh > "$out/machine.txt"

go test -c -o "$out/bench.test" .
: > "$out/bench.txt"
for _ in $(seq "$count"); do
	"$out/bench.test" -test.run='^$' -test.bench=. >> "$out/bench.txt"
done
rm "$out/bench.test"

# The HTTP cases, apart from the store benchmarks (StoreLoad, StoreSave) and their floors.
http='.name:(Read OR Write OR Create OR Untouched)'
{
	"$benchstat" -filter "/store:memory $http" -col '/lib@(scs echosess)' "$out/bench.txt"
	echo
	"$benchstat" -filter "/store:memory $http" -col '/lib@(gorilla echosess)' "$out/bench.txt"
	echo
	"$benchstat" -filter "/store:memory $http" -col '/lib@(baseline echosess scs gorilla)' "$out/bench.txt"
	echo
	"$benchstat" -filter "/store:memory $http" -col '/lib@(echosess echosess-v5)' "$out/bench.txt"
	echo
	"$benchstat" -filter "/store:memory $http" -col '/lib@(gorilla-v5 echosess-v5)' "$out/bench.txt"
	echo
	"$benchstat" -filter "/store:memory $http" -col '/lib@(baseline baseline-v5 echosess echosess-v5 gorilla gorilla-v5)' "$out/bench.txt"
	echo
	"$benchstat" -filter "/store:sqlite $http" -col '/lib@(echosess echosess-cache)' "$out/bench.txt"
	if grep -q 'store=postgres' "$out/bench.txt"; then
		echo
		"$benchstat" -filter "/store:postgres $http" -col '/lib@(scs echosess echosess-cache)' "$out/bench.txt"
	fi
	echo
	"$benchstat" -filter '.name:(StoreLoad OR StoreSave)' -col '/lib@(floor floor-deadline floor-unprepared echosess)' "$out/bench.txt"
} > "$out/benchstat.txt"
go run ./ratios < "$out/bench.txt" > "$out/ratios.md"

# perf counts the instructions, or callgrind where perf cannot (instructions.sh).
if perf stat -x, -e instructions:u true 2>&1 | grep -Eq '^[0-9]+,' || command -v valgrind >/dev/null; then
	bash instructions.sh 3 > "$out/instructions.txt"
	{
		"$benchstat" -col '/lib@(baseline echosess scs gorilla)' "$out/instructions.txt"
		echo
		"$benchstat" -col '/lib@(baseline baseline-v5 echosess echosess-v5 gorilla gorilla-v5)' "$out/instructions.txt"
	} > "$out/instructions-benchstat.txt"
	go run ./ratios < "$out/instructions.txt" > "$out/instructions-ratios.md"
fi

# The load runs take turns in ten rounds, so that a change in the machine's load
# falls on every library and table size alike.
go run ./load -store memory -c 8 -d 20s -rounds 10 > "$out/load-memory.txt"
if [ -n "${ECHOSESS_POSTGRES_DSN:-}" ]; then
	go run ./load -store postgres -c 8 -d 20s -rows 1000,100000,1000000 -rounds 10 > "$out/load-postgres-scaling.txt"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
