"""Benchmark 4, ``orgsweep query`` (and ``orgsweep report`` when the CLI has it) over a results
directory (in BENCHMARKS.md: a full paper run).

Times, each ``--repeats`` times: the CLI as a user runs it (a fresh process: start-up, imports,
lazy scan, collect, print), the same query in-process through ``analysis.query.query`` (no
start-up), and ``orgsweep --help`` (the start-up floor). ``orgsweep report`` is timed when
``orgsweep --help`` lists it, with ``--report-args`` (``{results}`` and ``{out}`` are filled in;
``{out}`` is a scratch directory, so the results directory is only read: ``report`` would
otherwise write ``RESULTS_DIR/report/``).

Run: ``python -m bench query --results DIR/results`` (a finished ``paper`` run: ``python -m bench
paper run --results DIR/results`` makes one).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from bench.common import fmt, record, say, stats, uptime_line

SQL = "SELECT protocol, n_agents, avg(quality), count(*) FROM runs GROUP BY 1,2"


def _orgsweep() -> str:
    here = os.path.join(os.path.dirname(sys.executable), "orgsweep")
    return shutil.which("orgsweep") or here


def _timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - t, res


def layout(results: str) -> dict[str, Any]:
    out = {}
    for table in ("runs", "agents", "transcripts"):
        d = os.path.join(results, table)
        files = [f for f in os.listdir(d) if f.endswith(".parquet")] if os.path.isdir(d) else []
        size = sum(os.path.getsize(os.path.join(d, f)) for f in files)
        out[table] = {"parts": len(files), "mib": round(size / 2**20, 1)}
    return out


def report_breakdown(results: str, out: str) -> dict[str, Any]:
    """One in-process ``analysis.report.report`` run: its own phase timings (seconds)."""
    try:
        from analysis.report import report

        t = time.perf_counter()
        r = report(results, out_dir=out)
        total = time.perf_counter() - t
    except Exception as e:  # the report is young: keep the benchmark's other figures
        return {"error": f"{type(e).__name__}: {e}"[:300]}
    return {
        **{k: round(v, 2) for k, v in getattr(r, "timings", {}).items()},
        "total": round(total, 2),
    }


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench query", description=__doc__)
    ap.add_argument("--results", required=True, help="a results directory (a paper run)")
    ap.add_argument("--sql", default=SQL)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--report-args",
        default="{results} --out {out}",
        help="arguments of `orgsweep report` ({results}, {out} are filled in)",
    )
    args = ap.parse_args(argv)
    exe = _orgsweep()
    results = os.path.abspath(args.results)
    say(f"query: {results}; {uptime_line()}")
    parts = layout(results)
    say("  " + ", ".join(f"{t}: {v['parts']} parts, {v['mib']} MiB" for t, v in parts.items()))
    _, helped = _timed([exe, "--help"])
    has_report = any(line.split()[:1] == ["report"] for line in helped.stdout.splitlines())

    from analysis.query import query

    reps: list[dict[str, Any]] = []
    breakdown: dict[str, Any] = {}
    out_dir = tempfile.mkdtemp(prefix="orgsweep-bench-report-")
    try:
        for r in range(args.repeats):
            rep: dict[str, Any] = {"load_before": os.getloadavg()[0]}
            rep["help_s"], _ = _timed([exe, "--help"])
            rep["cli_s"], res = _timed([exe, "query", results, args.sql, "--format", "csv"])
            if res.returncode != 0:
                raise RuntimeError(f"orgsweep query failed: {res.stderr.strip()[-500:]}")
            rep["rows"] = len(res.stdout.strip().splitlines()) - 1
            t = time.perf_counter()
            df = query(results, args.sql)
            rep["inprocess_s"] = time.perf_counter() - t
            assert df.height == rep["rows"], (df.height, rep["rows"])
            if has_report:
                out = os.path.join(out_dir, f"report{r}")
                extra = shlex.split(args.report_args.format(results=results, out=out))
                if "--out" not in extra:
                    raise SystemExit("--report-args must send the report elsewhere (--out {out})")
                rep["report_s"], res = _timed([exe, "report", *extra])
                rep["report_rc"] = res.returncode
                if res.returncode != 0:
                    rep["report_error"] = res.stderr.strip()[-500:]
            reps.append(rep)
            say(
                f"  [{r}] cli {rep['cli_s']:.2f} s, in-process {rep['inprocess_s']:.2f} s, "
                f"--help {rep['help_s']:.2f} s"
                + (
                    f", report {rep['report_s']:.2f} s (rc {rep['report_rc']})"
                    if has_report
                    else ""
                )
                + f"; load {rep['load_before']:.2f}"
            )
        if has_report:
            breakdown = report_breakdown(results, os.path.join(out_dir, "inprocess"))
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    keys = ["cli_s", "inprocess_s", "help_s"] + (["report_s"] if has_report else [])
    summary = {k: stats(r[k] for r in reps) for k in keys}
    say(f"query, medians (min-max) of {args.repeats}; {uptime_line()}")
    say(
        f"  orgsweep query (CLI) {fmt(summary['cli_s'], 's')}; in-process "
        f"{fmt(summary['inprocess_s'], 's')}; `orgsweep --help` {fmt(summary['help_s'], 's')}; "
        f"{reps[0]['rows']} result rows"
    )
    if has_report:
        say(f"  orgsweep report {fmt(summary['report_s'], 's')}; in-process phases: {breakdown}")
    else:
        say("  orgsweep report: not in this CLI (`orgsweep --help` does not list it)")
    path = record(
        "query",
        {
            "results": results,
            "sql": args.sql,
            "layout": parts,
            "has_report": has_report,
            "report_breakdown": breakdown,
            "summary": summary,
            "runs": reps,
            "load_end": uptime_line(),
        },
    )
    say(f"appended to {path}")
    return 0
