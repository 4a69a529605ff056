"""The ``orgsweep`` command line. Subcommands import their machinery lazily (``--help`` is fast).

Config-taking commands accept Hydra ``key=value`` overrides. User errors print one message and
exit 2 (``ORGSWEEP_FULL_ERROR=1`` shows the traceback); Ctrl-C exits 130 keeping every commit.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from agents.backends.base import SetupError
from sweep.errors import UserError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="orgsweep",
        description="Resumable sweeps of multi-agent LLM coordination experiments.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(name: str, help: str, config: bool = True) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        if config:
            sp.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. sweep=smoke seed=1")
        return sp

    launch = cmd("launch", "run a sweep (skips committed episodes; re-run to resume)")
    launch.add_argument("--retry-failed", action="store_true", help="re-run failed episodes too")
    launch.add_argument("--no-progress", action="store_true", help="no live progress display")
    launch.add_argument(
        "--on-config-change",
        choices=("warn", "refuse"),
        default="warn",
        help="when committed results are not in this plan (a result-affecting change)",
    )
    resume = cmd("resume", "resume the sweep stored in RESULTS_DIR with its stored config", False)
    resume.add_argument("results_dir")
    resume.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    resume.add_argument("--retry-failed", action="store_true")
    resume.add_argument("--no-progress", action="store_true")
    resume.add_argument("--on-config-change", choices=("warn", "refuse"), default="refuse")
    plan = cmd("plan", "count the planned episodes, calls and tokens of a sweep")
    plan.add_argument("--json", action="store_true", help="machine-readable summary")
    plan.add_argument("--pilot", metavar="RESULTS_DIR", help="calibrate tokens from a pilot's runs")
    cmd("validate", "check a config and report every problem at once")
    status = cmd("status", "done / failed / pending of a results directory", False)
    status.add_argument("results_dir")
    compact = cmd("compact", "merge each table's part files into one (content unchanged)", False)
    compact.add_argument("results_dir")
    query = cmd("query", "SQL over the runs, agents, transcripts and scores tables", False)
    query.add_argument("results_dir")
    query.add_argument("sql")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    show = cmd("show", "print an episode's turns round by round (role, participation, work)", False)
    show.epilog = (
        "Prompts are printed only when the sweep ran with store_prompts=true (e.g. orgsweep "
        "launch sweep=protocols store_prompts=true). Find episode ids with: orgsweep query "
        'RESULTS_DIR "SELECT episode_id, protocol FROM runs LIMIT 5"'
    )
    show.add_argument("results_dir")
    show.add_argument("episode_id", help="an episode id (or a unique prefix of one)")
    show.add_argument("--step", type=int, default=None, help="only this step (0-based)")
    rescore = cmd("rescore", "re-judge stored deliverables into a new score set", False)
    rescore.epilog = "Read it with: analysis.load(RESULTS_DIR, score_set=NAME)"
    rescore.add_argument("results_dir")
    rescore.add_argument("overrides", nargs="*", help="the judge, e.g. judge.model=glm5")
    rescore.add_argument("--name", help="score set name (default: <judge model>-<rubric>)")
    rescore.add_argument("--concurrency", type=int, default=32, help="judge calls in flight")
    report = cmd("report", "write RESULTS_DIR/report/: the paper's tables, figures, stats", False)
    report.add_argument("results_dir")
    report.add_argument("--score-set", help="a score set from `orgsweep rescore` (default: inline)")
    report.add_argument(
        "--all-episodes",
        action="store_true",
        help="include committed episodes that are not in the sweep's current plan",
    )
    report.add_argument("--out", help="output directory (default: RESULTS_DIR/report)")
    tasks = cmd("tasks", "task utilities (export)", False)
    actions = tasks.add_subparsers(dest="tasks_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write generated tasks to .jsonl or .parquet")
    export.add_argument("--n", type=int, required=True, help="number of tasks")
    export.add_argument("--out", required=True, help="FILE.jsonl or FILE.parquet")
    export.add_argument("--seed", type=int, default=0)
    export.add_argument("--levels", default="L1,L2,L3,L4", help="comma-separated, e.g. L3,L4")
    export.add_argument("--namespace", default="", help="another independent set of tasks")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # Overrides may come after options too (`launch --no-progress seed=1`).
    if extra and hasattr(args, "overrides") and not any(x.startswith("-") for x in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        from sweep import commands

        fn = {"plan": "plan_cmd"}.get(args.command, args.command)
        return int(getattr(commands, fn)(args) or 0)
    except UserError as e:
        if os.environ.get("ORGSWEEP_FULL_ERROR") == "1":
            raise
        print(f"orgsweep: error: {e}", file=sys.stderr)
        return 2
    except SetupError as e:  # e.g. models failed to deploy, optional package missing
        if os.environ.get("ORGSWEEP_FULL_ERROR") == "1":
            raise
        print(f"orgsweep: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `orgsweep plan --json | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("\norgsweep: interrupted; everything committed so far is kept.", file=sys.stderr)
        return 130


def run() -> None:
    warnings.simplefilter("default")
    sys.exit(main())


if __name__ == "__main__":
    run()
