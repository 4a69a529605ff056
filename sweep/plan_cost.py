"""``orgsweep plan``'s cost part: config without secrets, the cost settings, a pilot's tokens.

``load_for_plan`` composes and builds the config as ``launch`` would, except that an API key is
not required (planning sends nothing); ``plan_estimate`` reads the ``cost`` group and, with
``--pilot RESULTS_DIR``, that directory's measured tokens, and returns ``sweep.estimate``'s
``CostEstimate``; ``store_estimate`` writes that estimate into a results directory at launch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from agents.backends import backend_entry
from agents.catalogue import ModelSpec
from sweep import cost, tokens
from sweep.config import SweepConfig, build, compose
from sweep.errors import UserError
from sweep.estimate import CostEstimate, as_json, defers_judge, estimate
from sweep.phases import Phase, by_cap, companions
from sweep.plan import Plan
from sweep.results.planned_cost import read_plan_cost, write_plan_cost
from sweep.results.store import ResultStore
from sweep.spec import EpisodeSpec


def load_for_plan(overrides: Sequence[str]) -> tuple[SweepConfig, list[str], DictConfig]:
    """Typed config, warnings and the composed config; the backend's key is not checked."""
    cfg = compose(overrides)
    backend = cfg.get("backend")
    if backend is not None and backend.get("api_key_env") is not None:
        with open_dict(cfg):
            cfg.backend.api_key_env = None
    typed, warns = build(cfg)
    return typed, warns, cfg


def plan_estimate(cfg: DictConfig, typed: SweepConfig, p: Plan, pilot: str | None) -> CostEstimate:
    raw = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(raw, dict)
    settings = cost.settings(raw.get("cost"))
    _check_gpus(typed.cluster.gpus_by_type)
    shapes = read_pilot(pilot) if pilot else None
    return estimate(typed, p, settings, shapes, pilot or "")


def executor_phases(
    cfg: DictConfig,
    typed: SweepConfig,
    specs: Sequence[EpisodeSpec],
    est: CostEstimate | None = None,
) -> Any:
    """The deployment phases a launch runs ``specs`` in (``sweep.phases``), or None for the
    executor's default (one phase, or ``cluster.max_concurrent_models`` models per phase): for a
    backend that serves its models, the planner's phases when ``cluster.gpus_by_type`` declares
    the GPUs, else the cap's phases with the catalogue's replicas (a swap_model shock's model
    beside the model it replaces). The judge is served beside the agents in each phase, or,
    when the judge is deferred (``judge_deferred``), in a last phase of its own only. ``est``:
    the estimate of exactly ``specs``, when the caller has it (not computed again)."""
    if not backend_entry(typed.backend.name).serves_models:
        return None
    agents = list(dict.fromkeys(s.model.name for s in specs))
    if typed.cluster.gpus_by_type:
        est = est or plan_estimate(cfg, typed, Plan(tuple(specs), {}), None)
        return est.phases or None
    ph = by_cap(agents, typed.cluster.max_concurrent_models, companions(specs))
    if not judge_deferred(cfg, typed, specs):
        return ph
    judge = typed.judge.model
    held = ((judge.name, 0),)
    return (*(Phase(p.agents, (*p.replicas, *held)) for p in ph), judge_phase(judge, None))


def judge_deferred(cfg: DictConfig, typed: SweepConfig, specs: Sequence[EpisodeSpec]) -> bool:
    """A launch of ``specs`` runs the judge as its own pass after the agents
    (sweep/judge_pass.py): ``cost.judge=deferred`` on a backend that serves its models, and
    no judge that is also an agent model (``sweep.estimate.defers_judge``)."""
    if not backend_entry(typed.backend.name).serves_models:
        return False
    raw = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(raw, dict)
    return defers_judge(cost.settings(raw.get("cost")), specs)


def judge_phase(judge: ModelSpec, phases_: Sequence[Phase] | None) -> Phase:
    """The judge's pass: the last of ``phases_`` when it serves only the judge (the planner's
    replicas), else the catalogue's replicas."""
    last = phases_[-1] if phases_ else None
    if last is not None and not last.agents and set(last.replicas_of()) == {judge.name}:
        return last
    return Phase((), ((judge.name, judge.replicas),))


def _check_gpus(gpus: Mapping[str, Any] | None) -> None:
    for t, n in (gpus or {}).items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise UserError(f"cluster.gpus_by_type.{t}={n!r} must be a whole number of GPUs >= 0")


def read_pilot(results_dir: str) -> dict[tokens.Shape, dict[str, float]]:
    """Measured tokens per cell shape of a pilot's committed ok runs."""
    from sweep.results.reader import load

    if not Path(results_dir).exists() and "://" not in results_dir:
        raise UserError(f"--pilot {results_dir}: no such results directory")
    try:
        runs = load(results_dir, plan_only=False).runs.select(tokens.PILOT_COLUMNS).collect()
    except Exception as e:  # an empty or foreign directory: no runs table to read
        raise UserError(f"--pilot {results_dir}: cannot read its runs ({e})") from None
    if runs.is_empty():
        raise UserError(f"--pilot {results_dir}: no committed runs to calibrate from")
    return tokens.pilot_shapes(runs.to_dicts())


def store_estimate(
    store: ResultStore, cfg: DictConfig, typed: SweepConfig, p: Plan, say: Callable[[str], None]
) -> CostEstimate | None:
    """Write ``p``'s cost estimate into the results directory (``plan_cost.json``) unless the
    one stored is for this same plan: later commands compare against what was planned at the
    first launch of it. A plan the cost model cannot price is a warning, never a failed launch.
    Returns the estimate it computed (None when it kept the stored one or could not price)."""
    try:
        stored = read_plan_cost(store)
    except UserError:  # damaged: written again below
        stored = None
    if stored is not None and stored.get("plan_digest") == p.digest():
        return None
    try:
        est = plan_estimate(cfg, typed, p, None)
    except UserError as e:
        say(f"warning: no cost estimate stored ({e}); `orgsweep status` shows spending only")
        return None
    write_plan_cost(store, p.digest(), as_json(est))
    return est
