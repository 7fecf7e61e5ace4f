#!/usr/bin/env bash
# Runs the measurements of BENCHMARKS.md's "Several instances on PostgreSQL" and
# writes them to a folder (default results/instances): two app processes per
# library behind one client, 90% reads of n and 10% writes, with stale reads
# counted; the same load on one process for comparison; echosess's writes/s with
# and without the change triggers of migration 00006 (and with a cache listening);
# and two diagnostics of the two-instance load: read-only, and with
# synchronous_commit=off (not durable: it shows what the commits' flushes cost, it
# is no figure to compare). Every command line goes to commands.txt before its
# output, and the load average is sampled every 10 s (loadavg.txt). Needs
# ECHOSESS_POSTGRES_DSN, as a URL for the last diagnostic.
#
#	bash instances.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-results/instances}
mkdir -p "$out"
: "${ECHOSESS_POSTGRES_DSN:?set ECHOSESS_POSTGRES_DSN}"

source record.sh

case $ECHOSESS_POSTGRES_DSN in
*\?*) nosync="$ECHOSESS_POSTGRES_DSN&synchronous_commit=off" ;;
*) nosync="$ECHOSESS_POSTGRES_DSN?synchronous_commit=off" ;;
esac

measure load-instances.txt -store postgres -instances 2 -c 8 -d 30s -rounds 3 -fail-on-error
measure load-one-instance.txt -store postgres -c 8 -d 30s -rounds 3 -fail-on-error
measure write-cost.txt -store postgres -libs echosess,echosess-nonotify -writes 1 -c 8 -d 20s -rounds 4 -fail-on-error
measure write-cost-listening.txt -store postgres -libs echosess,echosess-nonotify,echosess-cache -writes 1 -c 8 -d 20s -rounds 4 -fail-on-error
measure load-instances-readonly.txt -store postgres -instances 2 -writes 0 -c 8 -d 20s -rounds 2 -fail-on-error
echo "(ECHOSESS_POSTGRES_DSN with synchronous_commit=off)" >> "$out/commands.txt"
ECHOSESS_POSTGRES_DSN=$nosync measure load-instances-nosync.txt -store postgres -instances 2 -c 8 -d 20s -rounds 2 -fail-on-error

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
