"""Hydra composition and the typed, frozen sweep configuration built from it.

``compose`` runs Hydra's compose API on the packaged ``conf`` module, so an installed orgsweep
finds its configs from any working directory; ``build`` turns the result into frozen dataclasses
and reports every problem at once (``ConfigError``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from omegaconf import DictConfig, OmegaConf

from agents.backends import BACKENDS, BackendUnavailable, parse_options
from agents.backends.options import BackendConfigError, Options
from agents.catalogue import ModelSpec, SimJudgeProfile, SimProfile
from agents.judge import JudgeSpec, spec_issues
from agents.prompts import PROMPT_VERSION, PROMPT_VERSIONS
from agents.protocols import PROTOCOLS, make_params
from agents.tasks import LEVELS
from sweep.config_check import (
    check_scalars,
    dataclass_problems,
    rejected_override,
    unknown_key,
    unknown_override,
)
from sweep.errors import ConfigError, UserError
from sweep.self_judging import family_warnings
from sweep.spec import SHOCK_KINDS, ShockSpec
from sweep.task_source import TaskSource, build_source

CONFIG_MODULE = "conf"


@dataclass(frozen=True)
class ProtocolRef:
    name: str
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Block:
    name: str
    models: tuple[str, ...]
    protocols: tuple[ProtocolRef, ...]
    n_agents: tuple[int, ...]
    roles: tuple[str, ...]
    levels: tuple[str, ...]
    tasks_per_cell: int
    seeds: tuple[int, ...]
    steps: int
    shocks: tuple[ShockSpec | None, ...]


@dataclass(frozen=True)
class BackendConfig:
    """The backend and its typed options (``BackendEntry.options``), parsed once by ``build``
    from the ``backend.*`` keys; frozen and picklable, so runner actors receive it as is."""

    name: str
    options: Options


@dataclass(frozen=True)
class ClusterConfig:
    name: str = "local"
    address: str | None = None  # None: start a local Ray instance
    num_cpus: int | None = None  # local Ray only
    runners: int | None = None  # episode-runner actors; None = one per runner_cpus of the cluster
    runner_cpus: float = 1.0  # logical CPUs each runner actor reserves
    episodes_per_runner: int | None = None  # in flight per runner; None: sweep.sizing decides
    place_by_model: bool = False  # runners of model M need the custom resource "model:M"
    max_concurrent_models: int | None = None  # run models in phases of at most this many
    gpus_by_type: Mapping[str, int] | None = None  # GPUs the cluster may have, e.g. {H100: 32}
    gpus_per_node: int = 8  # GPUs of one node (the unit nodes are started and released in)
    max_attempts: int = 3
    retry_backoff_s: float = 1.0
    flush_rows: int = 5000
    flush_seconds: float = 10.0


@dataclass(frozen=True)
class SweepConfig:
    name: str
    seed: int
    limit: int | None
    mission: str
    results_dir: str
    blocks: tuple[Block, ...]
    models: Mapping[str, ModelSpec]
    judge: JudgeSpec
    backend: BackendConfig
    cluster: ClusterConfig
    temperature: float
    max_tokens: int
    store_prompts: bool
    prompt_version: str = PROMPT_VERSION
    tasks: TaskSource = field(default_factory=TaskSource)  # conf/tasks: generated or a file


def compose(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``conf/config.yaml`` with Hydra ``key=value`` overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    rejected: list[str] = []  # keys the config lacks: reported with every other problem
    overrides = list(overrides)
    while True:
        GlobalHydra.instance().clear()
        try:
            with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
                cfg = hydra_compose(config_name="config", overrides=overrides)
            OmegaConf.resolve(cfg)
            break
        except (HydraException, OmegaConfBaseException) as e:
            if (hit := rejected_override(one_line(str(e)), overrides)) is None:
                raise UserError(one_line(str(e))) from None
            rejected.append(hit[0])
            overrides = hit[1]
        finally:
            GlobalHydra.instance().clear()
    if rejected:
        raw = OmegaConf.to_container(cfg, resolve=True)
        problems = [unknown_override(k, raw) for k in rejected]  # type: ignore[arg-type]
        try:
            build(cfg)
        except ConfigError as e:
            problems += e.problems
        raise ConfigError(problems)
    return cfg


def one_line(message: str) -> str:
    """Hydra's multi-line messages (option lists on tab-indented lines) as one line."""
    parts = [p.strip() for p in message.replace("\t", "\n").splitlines() if p.strip()]
    out = ""
    for p in parts:
        if not out:
            out = p
        elif out.endswith(":"):
            out += " " + p
        elif re.fullmatch(r"[\w.\-/]+", p) and re.search(
            r"options in '[^']*': [\w\-/., ]+$|:$", out
        ):
            out += ", " + p
        else:
            out += " " + p
    return out.replace(": , ", ": ")


def _tuple(x: Any) -> tuple[Any, ...]:
    if x is None:
        return ()
    return tuple(x) if isinstance(x, list | tuple) else (x,)


def _model(name: str, d: Mapping[str, Any], problems: list[str]) -> ModelSpec | None:
    known = {f.name for f in fields(ModelSpec)}
    extra = sorted(set(d) - known)
    if extra:
        problems.append(
            f"models.{name}: unknown key(s) {', '.join(extra)}; valid: {', '.join(sorted(known))}"
        )
        return None
    try:
        sim_raw = dict(d.get("sim") or {})
        judge = SimJudgeProfile(**dict(sim_raw.pop("judge", None) or {}))
        sim = SimProfile(**sim_raw, judge=judge)
        return ModelSpec(**{**d, "name": d.get("name", name), "sim": sim})
    except TypeError as e:
        problems.append(f"models.{name}: {e}")
        return None


def build(cfg: DictConfig) -> tuple[SweepConfig, list[str]]:
    """Typed config and warnings; raises ``ConfigError`` listing every problem."""
    raw: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    problems: list[str] = []
    warnings: list[str] = []
    check_scalars(raw, problems)
    models = {
        n: m
        for n, d in (raw.get("models") or {}).items()
        if (m := _model(n, d, problems)) is not None
    }
    protocol_defaults = raw.get("protocols") or {}
    sweep = raw.get("sweep") or {}
    blocks = tuple(
        b
        for i, bd in enumerate(sweep.get("blocks") or [])
        if (b := _block(i, bd, models, protocol_defaults, raw, problems)) is not None
    )
    if not blocks:
        problems.append("sweep.blocks: the sweep has no valid block")
    judge_raw = raw.get("judge") or {}
    judge_model = models.get(str(judge_raw.get("model")))
    if judge_model is None:
        valid = ", ".join(sorted(models))
        problems.append(f"judge.model={judge_raw.get('model')!r} is not a model; valid: {valid}")
    for b in blocks:
        if judge_model is not None and judge_model.name in b.models:
            warnings.append(
                f"block {b.name!r}: judge model {judge_model.name!r} also plays the agents "
                "(the paper avoids self-judging)"
            )
        swapped = {s.model.name for s in b.shocks if s is not None and s.model is not None}
        if judge_model is not None and judge_model.name in swapped - set(b.models):
            warnings.append(
                f"block {b.name!r}: judge model {judge_model.name!r} plays swapped-in agents "
                "(swap_model shock)"
            )
        if judge_model is not None:
            warnings += family_warnings(judge_model, _judged(b, models))
    judge_problems, judge_warnings = spec_issues(judge_raw)
    problems += judge_problems
    warnings += judge_warnings
    backend = _backend(raw.get("backend") or {}, problems)
    cluster = _cluster(raw.get("cluster") or {}, problems)
    prompt_version = str(raw.get("prompt_version", PROMPT_VERSION))
    if prompt_version not in PROMPT_VERSIONS:
        problems.append(
            f"prompt_version={prompt_version!r}; valid: {', '.join(PROMPT_VERSIONS)} "
            "(p1 extends results made with the first layout)"
        )
    limit = sweep.get("limit")
    tasks = build_source(raw.get("tasks") or {}, blocks, problems)
    if problems:
        raise ConfigError(problems)
    assert judge_model is not None and backend is not None
    judge = JudgeSpec(
        judge_model,
        **{k: v for k, v in judge_raw.items() if k != "model" and k != "name"},
    )
    agent = raw.get("agent") or {}
    return (
        SweepConfig(
            name=str(sweep.get("name")),
            seed=int(raw.get("seed", 0)),
            limit=limit,
            mission=str(raw.get("mission", "")),
            results_dir=str(raw.get("results_dir")),
            blocks=blocks,
            models=models,
            judge=judge,
            backend=backend,
            cluster=cluster,
            temperature=float(agent.get("temperature", 0.7)),
            max_tokens=int(agent.get("max_tokens", 1024)),
            store_prompts=bool(raw.get("store_prompts", False)),
            prompt_version=prompt_version,
            tasks=tasks,
        ),
        warnings,
    )


def _backend(d: Mapping[str, Any], problems: list[str]) -> BackendConfig | None:
    """The backend with its options parsed into their typed object, once for every consumer
    (``agents.backends.parse_options``); each problem names its key."""
    name = d.get("name")
    if name not in BACKENDS:
        problems.append(f"backend.name={name!r}; valid: {', '.join(BACKENDS)}")
        return None
    try:
        options = parse_options(str(name), {k: v for k, v in d.items() if k != "name"})
    except BackendUnavailable as e:
        problems.append(str(e))
        return None
    except BackendConfigError as e:
        problems += e.problems
        return None
    return BackendConfig(str(name), options)


def _judged(b: Block, models: Mapping[str, ModelSpec]) -> list[tuple[str, ModelSpec]]:
    """The models a judge of block ``b`` judges: its agents' and swapped-in agents'."""
    agents = [(f"block {b.name!r}: agent model", models[m]) for m in b.models]
    swapped = [
        (f"block {b.name!r}: swap_model shock model", s.model)
        for s in b.shocks
        if s is not None and s.model is not None
    ]
    return agents + swapped


def _cluster(d: Mapping[str, Any], problems: list[str]) -> ClusterConfig:
    known = {f.name for f in fields(ClusterConfig)}
    extra = sorted(set(d) - known)
    problems += [unknown_key(f"cluster.{k}", known) for k in extra]
    if (bad := dataclass_problems("cluster", d, ClusterConfig)) or extra:
        problems += bad
        return ClusterConfig()
    c = ClusterConfig(**d)
    if c.max_attempts < 1:
        problems.append("cluster.max_attempts must be >= 1")
    epr = c.episodes_per_runner
    if epr is not None and (isinstance(epr, bool) or not isinstance(epr, int) or epr < 1):
        problems.append(
            f"cluster.episodes_per_runner={epr!r} must be a whole number >= 1, or null to size "
            "it from the engines' capacity"
        )
    return c


def _block(
    i: int,
    bd: Mapping[str, Any],
    models: Mapping[str, ModelSpec],
    protocol_defaults: Mapping[str, Any],
    raw: Mapping[str, Any],
    problems: list[str],
) -> Block | None:
    where = f"sweep.blocks[{i}] ({bd.get('name', '?')})"
    before = len(problems)
    known = {f.name for f in fields(Block)} - {"shocks"} | {"shock", "comment", "families"}
    for k in sorted(set(bd) - known):
        problems.append(f"{where}: unknown key {k!r}; valid: {', '.join(sorted(known))}")
    problems += family_problems(where, bd.get("families"))  # read by the report, not the plan
    names = _tuple(bd.get("models"))
    for m in names:
        if m not in models:
            problems.append(
                f"{where}: model {m!r} is not defined; valid: {', '.join(sorted(models))}"
            )
    protocols = tuple(
        _protocol(where, p, protocol_defaults, problems) for p in _tuple(bd.get("protocols"))
    )
    n_agents = _tuple(bd.get("n_agents"))
    if not n_agents or any(not isinstance(n, int) or not 1 <= n <= 4096 for n in n_agents):
        problems.append(f"{where}: n_agents={list(n_agents)} must be whole numbers in 1..4096")
    roles = _tuple(bd.get("roles", ["free"]))
    for r in roles:
        if r not in ("free", "fixed"):
            problems.append(f"{where}: roles value {r!r}; valid: free, fixed")
    levels = _tuple(bd.get("levels"))
    for lv in levels:
        if lv not in LEVELS:
            problems.append(f"{where}: level {lv!r}; valid: {', '.join(LEVELS)}")
    tpc, steps = bd.get("tasks_per_cell", 1), bd.get("steps", 1)
    if not isinstance(tpc, int) or tpc < 1:
        problems.append(f"{where}: tasks_per_cell={tpc!r} must be a whole number >= 1")
    if not isinstance(steps, int) or steps < 1:
        problems.append(f"{where}: steps={steps!r} must be a whole number >= 1")
    seeds = _tuple(bd.get("seeds", [raw.get("seed", 0)]))
    shocks = tuple(_shock(where, s, models, problems) for s in _tuple(bd.get("shock")) or (None,))
    if not names or not protocols or not levels:
        problems.append(f"{where}: needs at least one model, protocol and level")
    if len(problems) > before:
        return None
    return Block(
        str(bd.get("name", f"block{i}")),
        names,
        tuple(p for p in protocols if p),
        n_agents,
        roles,
        levels,
        tpc,
        seeds,
        steps,
        shocks,
    )


def family_problems(where: str, families: Any) -> list[str]:
    """A block's ``families:`` (factor -> Holm family name, docs/design/inference.md)."""
    factors = ("protocol", "model", "n_agents", "level", "roles")
    if families is None:
        return []
    if not isinstance(families, Mapping):
        return [f"{where}: families={families!r} must map a factor to a family name"]
    return [
        f"{where}: families key {k!r}; valid: {', '.join(factors)}"
        for k in families
        if k not in factors
    ] + [
        f"{where}: families.{k} must be a name"
        for k, v in families.items()
        if not isinstance(v, str)
    ]


def _protocol(
    where: str, p: Any, defaults: Mapping[str, Any], problems: list[str]
) -> ProtocolRef | None:
    name, over = (p, {}) if isinstance(p, str) else (p.get("name"), p.get("params") or {})
    if name not in PROTOCOLS:
        problems.append(f"{where}: protocol {name!r}; valid: {', '.join(sorted(PROTOCOLS))}")
        return None
    params = {**((defaults.get(name) or {}).get("params") or {}), **over}
    try:
        make_params(name, params)
    except (ValueError, TypeError) as e:
        problems.append(f"{where}: {e}")
        return None
    return ProtocolRef(name, tuple(sorted(params.items())))


def _shock(
    where: str, s: Any, models: Mapping[str, ModelSpec], problems: list[str]
) -> ShockSpec | None:
    if s is None or s == "none":
        return None
    if not isinstance(s, Mapping) or s.get("kind") not in SHOCK_KINDS:
        problems.append(f"{where}: shock {s!r}; kind must be one of {', '.join(SHOCK_KINDS)}")
        return None
    d = dict(s)
    model = None
    if d.get("kind") == "swap_model":
        model = models.get(str(d.get("model")))
        if model is None:
            problems.append(
                f"{where}: swap_model shock needs model, one of {', '.join(sorted(models))}"
            )
            return None
    d["model"] = model
    try:
        return ShockSpec(**d)
    except TypeError as e:
        problems.append(f"{where}: shock: {e}")
        return None
