#!/usr/bin/env bash
# Benchmark 1: the full paper sweep on the sim backend, timed by /usr/bin/time -v.
# Usage: bash bench/paper_sweep.sh RESULTS_DIR [OVERRIDES...]   (e.g. sweep.limit=200 for a pilot;
#        RESULTS_DIR must not hold a finished run:
#        a finished one is resumed and runs nothing). Logs go next to RESULTS_DIR:
#        out.log (orgsweep's output, then rc=N), err.log (time -v: wall, driver peak RSS),
#        load.log (uptime before and after). Then: python -m bench paper figures \
#            --results RESULTS_DIR --time-log "$(dirname RESULTS_DIR)/err.log"
# (python -m bench paper run --results RESULTS_DIR does both.)
set -u
results=$(realpath -m "${1:?usage: paper_sweep.sh RESULTS_DIR [OVERRIDES...]}")
shift
logs=$(dirname "$results")
mkdir -p "$logs"
orgsweep=${ORGSWEEP:-$(command -v orgsweep || echo "$(dirname "$0")/../.venv/bin/orgsweep")}
echo "before: $(uptime)" > "$logs/load.log"
/usr/bin/time -v "$orgsweep" launch sweep=paper "results_dir=$results" "$@" --no-progress \
    > "$logs/out.log" 2> "$logs/err.log"
rc=$?
echo "rc=$rc" >> "$logs/out.log"
echo "after: $(uptime)" >> "$logs/load.log"
exit $rc
