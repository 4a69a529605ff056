"""The ``orgsweep`` command line. Subcommands import their machinery lazily (``--help`` is fast).

Config-taking commands accept Hydra ``key=value`` overrides. User errors print one message and
exit 2 (``ORGSWEEP_FULL_ERROR=1`` shows the traceback); Ctrl-C exits 130 keeping every commit.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from agents.backends.chat import SetupError
from sweep.errors import UserError, os_error_message
from sweep.signals import EXIT_TERMINATED, Terminated, handle_sigterm

WAIT_HELP = "if another command writes to the results directory, wait for it instead of stopping"

# subcommand -> (module, function), imported on use so that `--help` stays instant
COMMANDS: dict[str, tuple[str, str]] = {
    "launch": ("sweep.cli.launch", "run"),
    "resume": ("sweep.cli.launch", "resume"),
    "plan": ("sweep.cli.plan", "run"),
    "validate": ("sweep.cli.validate", "run"),
    "config": ("sweep.cli.config", "run"),
    "status": ("sweep.cli.status", "run"),
    "compact": ("sweep.cli.compact", "run"),
    "check": ("sweep.cli.check", "run"),
    "query": ("sweep.cli.query", "run"),
    "show": ("sweep.cli.show", "run"),
    "rescore": ("sweep.cli.rescore", "run"),
    "agree": ("sweep.cli.judge", "agree"),
    "probe": ("sweep.cli.judge", "probe"),
    "scores": ("sweep.cli.judge", "scores"),
    "view": ("sweep.cli.view", "run"),
    "report": ("sweep.cli.report", "run"),
    "tasks": ("sweep.cli.tasks", "run"),
}


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
            sp.add_argument("--cfg", choices=("job",), help="print the resolved config and stop")
        return sp

    launch = cmd("launch", "run a sweep (skips committed episodes; re-run to resume)")
    launch.add_argument("--retry-failed", action="store_true", help="re-run failed episodes too")
    launch.add_argument("--no-progress", action="store_true", help="no progress display or lines")
    launch.add_argument("--wait", action="store_true", help=WAIT_HELP)
    _launch_options(launch)
    launch.add_argument(
        "--on-config-change",
        choices=("warn", "refuse"),
        default="refuse",
        help="when the results directory holds another sweep or plan (default: refuse)",
    )
    resume = cmd("resume", "resume the sweep stored in RESULTS_DIR with its stored config", False)
    resume.add_argument("results_dir")
    resume.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    resume.add_argument("--retry-failed", action="store_true")
    resume.add_argument("--no-progress", action="store_true")
    resume.add_argument("--wait", action="store_true", help=WAIT_HELP)
    resume.add_argument("--on-config-change", choices=("warn", "refuse"), default="refuse")
    _launch_options(resume)
    plan = cmd("plan", "count the planned episodes, calls and tokens of a sweep")
    plan.add_argument("--json", action="store_true", help="machine-readable summary")
    plan.add_argument(
        "--pilot",
        metavar="RESULTS_DIR",
        help="a pilot's results: calibrates tokens per call and the SD of paired differences",
    )
    cmd("validate", "check a config and report every problem at once")
    cmd("config", "print the resolved config (as Hydra's --cfg job), then check it")
    status = cmd("status", "running or stopped; done / failed / pending, failures by kind", False)
    status.add_argument("results_dir")
    status.add_argument("--json", action="store_true", help="machine-readable status")
    status.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=10.0,
        metavar="SECONDS",
        help="refresh every SECONDS (default 10) while the launch runs",
    )
    compact = cmd("compact", "merge each table's part files into one (content unchanged)", False)
    compact.add_argument("results_dir")
    compact.add_argument("--wait", action="store_true", help=WAIT_HELP)
    compact.add_argument(
        "--drop-stale",
        action="store_true",
        help="first delete rows of episodes not in the sweep's plan (atomically per table)",
    )
    check = cmd(
        "check",
        "list damaged, foreign, orphaned and leftover files and what the next launch does "
        "(exit 1 if any)",
        False,
    )
    check.add_argument("results_dir")
    check.add_argument("--json", action="store_true", help="machine-readable findings")
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
    rescore.add_argument("--wait", action="store_true", help=WAIT_HELP)
    agree = cmd("agree", "agreement between two score sets (kappa, alpha, ICC, task CIs)", False)
    agree.add_argument("results_dir")
    agree.add_argument("set_a", help="a score set; `default` is the launch's judge")
    agree.add_argument("set_b")
    agree.add_argument("--json", action="store_true", help="machine-readable result")
    agree.add_argument("--resamples", type=int, default=1000, help="task-bootstrap resamples")
    probe = cmd("probe", "bias probe: re-judge a sample after a controlled change", False)
    probe.add_argument("results_dir")
    probe.add_argument("overrides", nargs="*", help="the judge, e.g. judge.model=glm5")
    probe.add_argument("--kind", required=True, help="pad, shuffle, anonymise, duplicate, truncate")
    probe.add_argument("--sample", type=int, default=100, help="run steps to probe (stratified)")
    probe.add_argument("--concurrency", type=int, default=32, help="judge calls in flight")
    probe.add_argument("--wait", action="store_true", help=WAIT_HELP)
    scores = cmd("scores", "human labels: import a score set, export a blinded sample", False)
    sc = scores.add_subparsers(dest="scores_command", required=True, metavar="ACTION")
    imp = sc.add_parser("import", help="a CSV/Parquet of labels into a score set")
    imp.add_argument("results_dir")
    imp.add_argument("file", help="columns: episode_id, step, the 5 dimensions, [rater]")
    imp.add_argument("--name", required=True, help="score set name")
    exp = sc.add_parser("export", help="a blinded, stratified sample to rate (.csv/.parquet)")
    exp.add_argument("results_dir")
    exp.add_argument("--out", required=True, help="FILE.csv or FILE.parquet")
    exp.add_argument("--sample", type=int, default=50)
    exp.add_argument("--seed", type=int, default=0)
    report = cmd("report", "write RESULTS_DIR/report/: the paper's tables, figures, stats", False)
    report.add_argument("results_dir")
    report.add_argument("--score-set", help="a score set from `orgsweep rescore` (default: inline)")
    report.add_argument(
        "--all-episodes",
        action="store_true",
        help="include committed episodes that are not in the sweep's current plan",
    )
    report.add_argument("--out", help="output directory (default: RESULTS_DIR/report)")
    view = cmd("view", "browse RESULTS_DIR in a local read-only web app (episodes, runs)", False)
    view.add_argument("results_dir")
    view.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    view.add_argument("--host", default="127.0.0.1", help="address to bind (default: local only)")
    tasks = cmd("tasks", "task utilities (export)", False)
    actions = tasks.add_subparsers(dest="tasks_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="write generated tasks to .jsonl or .parquet")
    export.add_argument("--n", type=int, required=True, help="number of tasks")
    export.add_argument("--out", required=True, help="FILE.jsonl or FILE.parquet")
    export.add_argument("--seed", type=int, default=0)
    export.add_argument("--levels", default="L1,L2,L3,L4", help="comma-separated, e.g. L3,L4")
    export.add_argument("--namespace", default="", help="another independent set of tasks")
    return p


def _launch_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--progress-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="when stdout is not a terminal: a progress line every SECONDS (default 30)",
    )
    sp.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip checking that the server lists every model (backend=openai)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # Overrides may come after options too (`launch --no-progress seed=1`).
    if extra and hasattr(args, "overrides") and not any(x.startswith("-") for x in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        from sweep.results_dir import require_results_dir

        if getattr(args, "results_dir", None) is not None:
            require_results_dir(args.results_dir)  # one message for every such command
        # Hydra's --cfg job on any config-taking command prints the config instead.
        command = "config" if getattr(args, "cfg", None) == "job" else args.command
        module, fn = COMMANDS[command]
        return int(getattr(importlib.import_module(module), fn)(args) or 0)
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
    except OSError as e:  # the machine, not orgsweep: a full disk, a lost mount, permissions
        if os.environ.get("ORGSWEEP_FULL_ERROR") == "1":
            raise
        print(f"orgsweep: error: {os_error_message(e)}", file=sys.stderr)
        return 1
    except Terminated:
        print(
            "\norgsweep: terminated (SIGTERM); everything committed so far is kept.",
            file=sys.stderr,
        )
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("\norgsweep: interrupted; everything committed so far is kept.", file=sys.stderr)
        return 130


def run() -> None:
    warnings.simplefilter("default")
    handle_sigterm()
    sys.exit(main())


if __name__ == "__main__":
    run()
