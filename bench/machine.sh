#!/usr/bin/env bash
# Prints what a benchmark run ran on, for the machine.txt of its results folder:
# the date, the commit, the CPUs, Go, PostgreSQL and the load average.
#
#	bash machine.sh > OUT/machine.txt
set -euo pipefail
echo "date: $(date -u +%FT%TZ)"
echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- ':/*.go' || echo ' (with uncommitted changes to Go files)')"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "go: $(go version)"
echo "postgres: $(psql --version 2>/dev/null || echo none)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
