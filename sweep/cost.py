"""The cost model's constants and formulas: GPU types, throughput per replica, load times, USD.

Pure. ``CostSettings`` is built from the ``cost`` config group (conf/cost/default.yaml);
``rates`` gives a model's prefill and decode tokens/s per replica on a GPU type from its active
parameters and TP x PP size, ``load_s`` the seconds to bring it up, ``accelerator`` the cheapest
GPU type whose memory holds its weights. Formulas and the reasons for the constants:
docs/design/cost.md.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import yaml

from agents.catalogue import ModelSpec
from sweep.errors import ConfigError

JUDGE_MODES = ("deferred", "inline")


@dataclass(frozen=True)
class GpuType:
    name: str
    memory_gb: float
    tflops: float  # dense bf16 peak
    prefill_mfu: float
    decode_mfu: float
    usd_per_gpu_hour: float


@dataclass(frozen=True)
class ModelOverride:
    accelerator: str | None = None
    bytes_per_param: float | None = None
    load_s: float | None = None
    prefill_tok_s: float | None = None  # per replica
    decode_tok_s: float | None = None


@dataclass(frozen=True)
class CostSettings:
    reply_scale: float = 1.0
    samples: int = 2
    cache_hit_share: float | None = None  # None: measured from the rendered prompts
    cache_block_tokens: int = 16
    judge: str = "deferred"  # its own pass last (sweep/judge_pass.py); or "inline"
    load_base_s: float = 90.0
    load_gb_per_s: float = 2.0
    bytes_per_param: float = 2.0
    weights_fraction: float = 0.8
    gpu_types: tuple[GpuType, ...] = ()
    models: tuple[tuple[str, ModelOverride], ...] = ()

    def gpu(self, name: str) -> GpuType:
        for g in self.gpu_types:
            if g.name == name:
                return g
        valid = ", ".join(g.name for g in self.gpu_types)
        raise ConfigError([f"GPU type {name!r} is not in cost.gpu_types; valid: {valid}"])

    def override(self, model: str) -> ModelOverride:
        return dict(self.models).get(model, ModelOverride())


@dataclass(frozen=True)
class Rates:
    """Tokens per second one replica serves, prefill (uncached prompt) and decode."""

    prefill_tok_s: float
    decode_tok_s: float

    def replica_s(self, uncached_prompt: float, completion: float) -> float:
        """Seconds of one saturated replica for this many tokens (prefill and decode share it)."""
        return uncached_prompt / self.prefill_tok_s + completion / self.decode_tok_s


def settings(raw: Mapping[str, Any] | None) -> CostSettings:
    """``CostSettings`` from the ``cost`` config mapping; every problem at once (ConfigError)."""
    d = dict(raw or {})
    d.pop("name", None)
    problems: list[str] = []
    known = {f.name for f in fields(CostSettings)}
    if extra := sorted(set(d) - known):
        problems.append(
            f"cost: unknown key(s) {', '.join(extra)}; valid: {', '.join(sorted(known))}"
        )
    gpus = tuple(_gpu(n, g, problems) for n, g in (d.pop("gpu_types", None) or {}).items())
    models = tuple((n, _override(n, o, problems)) for n, o in (d.pop("models", None) or {}).items())
    scalars = {k: v for k, v in d.items() if k in known}
    try:
        s = CostSettings(**scalars, gpu_types=gpus, models=models)
    except TypeError as e:  # pragma: no cover - keys were checked above
        raise ConfigError([f"cost: {e}"]) from None
    problems += _value_problems(s)
    if problems:
        raise ConfigError(problems)
    return s


def _gpu(name: str, d: Any, problems: list[str]) -> GpuType:
    keys = [f.name for f in fields(GpuType) if f.name != "name"]
    if not isinstance(d, Mapping) or set(d) != set(keys):
        problems.append(f"cost.gpu_types.{name}: give exactly {', '.join(keys)}")
        return GpuType(name, 1.0, 1.0, 1.0, 1.0, 0.0)
    values = {k: float(d[k]) for k in keys}
    if any(v <= 0 for k, v in values.items() if k != "usd_per_gpu_hour"):
        problems.append(f"cost.gpu_types.{name}: memory, tflops and MFUs must be > 0")
    return GpuType(name, **values)


def _override(name: str, d: Any, problems: list[str]) -> ModelOverride:
    valid = {f.name for f in fields(ModelOverride)}
    if not isinstance(d, Mapping) or set(d) - valid:
        problems.append(f"cost.models.{name}: keys must be among {', '.join(sorted(valid))}")
        return ModelOverride()
    return ModelOverride(**d)


def _value_problems(s: CostSettings) -> list[str]:
    p = []
    if s.reply_scale <= 0:
        p.append(f"cost.reply_scale={s.reply_scale!r} must be > 0")
    if not isinstance(s.samples, int) or s.samples < 1:
        p.append(f"cost.samples={s.samples!r} must be a whole number >= 1")
    if s.cache_hit_share is not None and not 0 <= s.cache_hit_share <= 1:
        p.append(f"cost.cache_hit_share={s.cache_hit_share!r} must be in [0, 1], or null")
    if s.judge not in JUDGE_MODES:
        p.append(f"cost.judge={s.judge!r}; valid: {', '.join(JUDGE_MODES)}")
    if s.load_gb_per_s <= 0 or s.bytes_per_param <= 0:
        p.append("cost.load_gb_per_s and cost.bytes_per_param must be > 0")
    if not s.gpu_types:
        p.append("cost.gpu_types: give at least one GPU type")
    names = {g.name for g in s.gpu_types}
    for model, o in s.models:
        if o.accelerator is not None and o.accelerator not in names:
            p.append(f"cost.models.{model}.accelerator={o.accelerator!r}; valid: {sorted(names)}")
    return p


def weights_gb(model: ModelSpec, s: CostSettings) -> float:
    return model.params_b * (s.override(model.name).bytes_per_param or s.bytes_per_param)


def fits(model: ModelSpec, gpu: GpuType, s: CostSettings) -> bool:
    """The weights fit the replica's GPUs with ``weights_fraction`` of memory left for them."""
    return weights_gb(model, s) <= model.gpus * gpu.memory_gb * s.weights_fraction


def accelerator(model: ModelSpec, s: CostSettings, available: tuple[str, ...] = ()) -> GpuType:
    """The override, else the cheapest GPU type (among ``available`` when given) that fits."""
    if name := s.override(model.name).accelerator:
        return s.gpu(name)
    pool = [g for g in s.gpu_types if not available or g.name in available]
    ok = sorted((g for g in pool if fits(model, g, s)), key=lambda g: g.usd_per_gpu_hour)
    if not ok:
        raise ConfigError(
            [
                f"model {model.name}: {weights_gb(model, s):.0f} GB of weights fit no GPU type "
                f"of {[g.name for g in pool]} at TP x PP = {model.gpus}; raise its "
                f"tensor_parallel_size, or set cost.models.{model.name}.accelerator"
            ]
        )
    return ok[0]


def rates(model: ModelSpec, gpu: GpuType, s: CostSettings) -> Rates:
    """Per-replica throughput: overrides, else the active-parameter FLOP formula."""
    o = s.override(model.name)
    flops_per_token = 2.0 * max(model.active_params_b, 0.1) * 1e9
    peak = model.gpus * gpu.tflops * 1e12
    return Rates(
        o.prefill_tok_s or peak * gpu.prefill_mfu / flops_per_token,
        o.decode_tok_s or peak * gpu.decode_mfu / flops_per_token,
    )


def load_s(model: ModelSpec, s: CostSettings) -> float:
    """Seconds from placing a replica to serving: engine start plus reading the weights."""
    o = s.override(model.name)
    if o.load_s is not None:
        return o.load_s
    return s.load_base_s + weights_gb(model, s) / s.load_gb_per_s


def hosted_usd(model: ModelSpec, prompt: float, completion: float) -> float | None:
    """USD at the model's per-million-token list prices (None when a price is missing)."""
    if model.price_in_per_mtok is None or model.price_out_per_mtok is None:
        return None
    return (prompt * model.price_in_per_mtok + completion * model.price_out_per_mtok) / 1e6


@dataclass(frozen=True)
class Work:
    """A model's planned load: tokens, and GPU-seconds on its accelerator."""

    model: str
    prompt_tokens: float
    completion_tokens: float
    cached_share: float
    gpu: str  # GPU type ("" for hosted)
    gpus_per_replica: int
    gpu_s: float
    load_s: float
    judge: bool = False
    measured: bool = False  # tokens from a pilot
    companions: tuple[str, ...] = field(default=())  # models co-served with this one


def self_hosted_work(
    model: ModelSpec,
    prompt: float,
    completion: float,
    cached_share: float,
    s: CostSettings,
    available: tuple[str, ...] = (),
) -> Work:
    gpu = accelerator(model, s, available)
    r = rates(model, gpu, s)
    replica_s = r.replica_s(prompt * (1.0 - cached_share), completion)
    return Work(
        model.name,
        prompt,
        completion,
        cached_share,
        gpu.name,
        model.gpus,
        replica_s * model.gpus,
        load_s(model, s),
    )


@functools.cache
def default_settings() -> CostSettings:
    """The packaged ``conf/cost/default.yaml`` (runners have no composed config at hand)."""
    text = (importlib.resources.files("conf") / "cost" / "default.yaml").read_text()
    return settings(yaml.safe_load(text))


def _attributed(model: ModelSpec, prompt: float, completion: float) -> tuple[float, GpuType] | None:
    """GPU-seconds of ``model``'s replicas that these tokens account for, and the GPU type
    they run on; None for hosted models and models no GPU type holds."""
    if model.hosted:
        return None
    s = default_settings()
    try:
        gpu = accelerator(model, s)
    except ConfigError:
        return None
    return rates(model, gpu, s).replica_s(prompt, completion) * model.gpus, gpu


def attributed_gpu_s(model: ModelSpec, prompt: float, completion: float) -> float | None:
    """GPU-seconds of ``model``'s replicas that these tokens account for: its saturated
    replicas' time for them (no prefix-cache hits assumed), times the replica's GPUs. An
    attribution of busy time, not a measurement; None for hosted models."""
    got = _attributed(model, prompt, completion)
    return None if got is None else got[0]


def attributed_cost(
    model: ModelSpec, prompt: float, completion: float, served: bool
) -> tuple[float | None, float | None]:
    """(GPU-seconds, USD) a step's calls to ``model`` account for. Hosted: no GPU-seconds, the
    list prices. Self-hosted and ``served`` (a real engine, not the sim): ``attributed_gpu_s``
    and those GPU-seconds at the GPU type's price of ``cost.gpu_types`` (the plan's prices).
    None where unknown (a missing price, or nothing served)."""
    if model.hosted:
        return None, hosted_usd(model, prompt, completion)
    if not served or (got := _attributed(model, prompt, completion)) is None:
        return None, None
    gpu_s, gpu = got
    return gpu_s, gpu_s * gpu.usd_per_gpu_hour / 3600


def split_columns(
    agent: tuple[float | None, float | None], judge: tuple[float | None, float | None]
) -> dict[str, float | None]:
    """The ``runs`` accounting columns from the agent and judge parts' (GPU-s, USD):
    ``gpu_s`` sums the parts that used GPUs of ours (None if neither did); ``cost_usd`` is
    agent + judge, None when either part's price is unknown."""
    (ag, au), (jg, ju) = agent, judge
    gpus = [g for g in (ag, jg) if g is not None]
    return {
        "gpu_s": sum(gpus) if gpus else None,
        "cost_usd": None if au is None or ju is None else au + ju,
        "agent_gpu_s": ag,
        "judge_gpu_s": jg,
        "agent_cost_usd": au,
        "judge_cost_usd": ju,
    }
