#!/usr/bin/env bash
# Every benchmark, back to back, as BENCHMARKS.md's figures were taken (about 50 minutes on
# 2 cores). Run it on an otherwise idle machine.
#   bash bench/run_all.sh [WORKDIR]     (default WORKDIR: ./bench-run; ~250 MB of results)
set -u
cd "$(dirname "$0")/.."
W=$(realpath -m "${1:-bench-run}")
mkdir -p "$W"
PY=${PYTHON:-$(command -v python || echo python3)}
step() { echo "== $1 at $(date -u +%T); $(uptime)"; }
step "paper run 1"; "$PY" -m bench paper run --results "$W/paper1/results"
step "resume"; "$PY" -m bench resume --real "$W/paper1/results"
step "query"; "$PY" -m bench query --results "$W/paper1/results"
step "saturation"; "$PY" -m bench saturation --variants orgsweep,naive,exact
step "overhead"; "$PY" -m bench paper overhead
step "prefix figure"; "$PY" -m bench prefix  # needs the bench extra (BENCHMARKS.md section 5)
step "affinity"; "$PY" -m bench affinity
step "paper run 2"; "$PY" -m bench paper run --results "$W/paper2/results"
step "paper run 3"; "$PY" -m bench paper run --results "$W/paper3/results"
step "done"
