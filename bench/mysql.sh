#!/usr/bin/env bash
# Runs the measurements of BENCHMARKS.md's "MySQL and MariaDB" section and writes
# them to a folder (default results/mysql):
#   - the in-process benchmarks of echosess, echosess with Config.Cache, and scs on
#     its mysqlstore, with the store-level Load and Save beside the bare driver
#     call (their floors), COUNT runs of the suite (default 6), interleaved as
#     run.sh does, with benchstat and ratio tables;
#   - the instructions of the store-level Load and Save and of their floors, the
#     client's alone, by callgrind (callgrind.sh; CGRUNS runs, default 2);
#   - two app processes per library behind one client, 90% reads of n and 10%
#     writes, with stale reads counted (bench/load -instances 2), beside the
#     baseline app without sessions, whose rate is the most that any library
#     could reach on this machine; then the same load on one process.
# Every command line goes to commands.txt before its output, and the load average
# is sampled every 10 s (loadavg.txt). Needs ECHOSESS_MYSQL_DSN, of a user who may
# create databases, such as root@tcp(127.0.0.1:3306)/: each run makes its own
# databases and drops them at its end. D and ROUNDS set the load runs' length
# (default 30s in 3 rounds); COUNT=1 D=4s ROUNDS=1 CGRUNS=1 makes a quick check.
#
#	bash mysql.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-results/mysql}
count=${COUNT:-6}
cgruns=${CGRUNS:-2}
d=${D:-30s} rounds=${ROUNDS:-3}
benchstat=${BENCHSTAT:-$(go env GOPATH)/bin/benchstat}
: "${ECHOSESS_MYSQL_DSN:?set ECHOSESS_MYSQL_DSN}"
mkdir -p "$out"

source record.sh
echo "mysql: $(mysql -h 127.0.0.1 -P 3306 -u root --batch --skip-column-names -e 'SELECT VERSION()' 2>/dev/null || echo unknown)" >> "$out/machine.txt"


cases='^Benchmark(Read|Write|Create|Untouched)$/^lib=(echosess|echosess-cache|scs)$/^store=mysql$|^BenchmarkStore(Load|Save)$/^store=mysql$'
echo "go test -c -o bench.test . && for run in \$(seq $count); do ./bench.test -test.run='^\$' -test.bench='$cases' -test.benchmem >> bench.txt; done" >> "$out/commands.txt"
go test -c -o "$out/bench.test" .
: > "$out/bench.txt"
for _ in $(seq "$count"); do
	"$out/bench.test" -test.run='^$' -test.bench="$cases" -test.benchmem >> "$out/bench.txt"
done
http='.name:(Read OR Write OR Create OR Untouched)'
store='.name:(StoreLoad OR StoreSave)'
echo "benchstat -filter '$http' -col '/lib@(scs echosess echosess-cache)' bench.txt; benchstat -filter '$store' -col '/lib@(floor floor-deadline floor-unprepared echosess)' bench.txt; go run ./ratios < bench.txt > ratios.md" >> "$out/commands.txt"
{
	"$benchstat" -filter "$http" -col '/lib@(scs echosess echosess-cache)' "$out/bench.txt"
	echo
	"$benchstat" -filter "$store" -col '/lib@(floor floor-deadline floor-unprepared echosess)' "$out/bench.txt"
} > "$out/benchstat.txt"
go run ./ratios < "$out/bench.txt" > "$out/ratios.md"
cat "$out/ratios.md"

# The client's instructions per Load and Save, and per call of each floor.
pats=()
for op in Load Save; do
	for lib in floor floor-deadline floor-unprepared echosess; do
		pats+=("^BenchmarkStore$op\$/^store=mysql\$/^lib=$lib\$")
	done
done
echo "bash callgrind.sh $cgruns bench.test $(printf "'%s' " "${pats[@]}")> instructions.txt; benchstat -col /lib instructions.txt" >> "$out/commands.txt"
bash callgrind.sh "$cgruns" "$out/bench.test" "${pats[@]}" > "$out/instructions.txt"
"$benchstat" -col '/lib@(floor floor-deadline floor-unprepared echosess)' "$out/instructions.txt" > "$out/instructions-benchstat.txt"
cat "$out/instructions-benchstat.txt"
rm "$out/bench.test"

flags=(-store mysql -libs baseline,echosess,echosess-cache,scs -c 8 -fail-on-error)
measure load-instances.txt "${flags[@]}" -instances 2 -d "$d" -rounds "$rounds"
measure load-one-instance.txt "${flags[@]}" -d "$d" -rounds "$rounds"

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
