"""What a sweep costs before it runs: tokens, GPU-seconds, deployment schedule, makespan, USD.

Pure apart from the in-process sim episodes of ``sweep.tokens``. ``estimate`` turns a plan into a
``CostEstimate`` (per model and in total, the scheduled deployment beside today's all-at-once
one); ``as_json`` is what ``orgsweep plan --json`` puts under the key ``"cost"``; ``lines`` is the
text ``orgsweep plan`` prints. Formulas: docs/design/cost.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agents.backends import backend_entry
from agents.catalogue import ModelSpec
from sweep import cost, phases, schedule, tokens
from sweep.config import SweepConfig
from sweep.errors import UserError
from sweep.phases import Phase
from sweep.plan import Plan
from sweep.schedule import Job, Schedule
from sweep.spec import EpisodeSpec


@dataclass(frozen=True)
class ModelCost:
    model: str
    part: str  # "agents" | "judge"
    hosted: bool
    episodes: int
    calls: float
    prompt_tokens: float
    completion_tokens: float
    cached_share: float
    gpu: str = ""  # GPU type ("" hosted or not served by us)
    gpus_per_replica: int = 0
    gpu_s: float = 0.0  # GPU-seconds of work
    load_s: float = 0.0
    billed_gpu_s: float = 0.0  # in the scheduled deployment
    usd: float | None = None
    measured: bool = False  # tokens from a pilot


@dataclass(frozen=True)
class CostEstimate:
    models: tuple[ModelCost, ...]
    scheduled: Schedule | None
    today: Schedule | None
    prices: Mapping[str, float]  # USD per GPU-hour by GPU type
    notes: tuple[str, ...]
    source: str  # "estimate" | "pilot: DIR (k of n cell shapes measured)"
    phases: tuple[Phase, ...] = ()  # what the executor deploys (sweep.phases)
    executed: Schedule | None = None  # those phases laid out on the nodes

    def usd(self, s: Schedule | None) -> float:
        """Self-hosted USD of a schedule (per-type GPU-hour prices) plus the hosted models'."""
        hosted = sum(m.usd or 0.0 for m in self.models if m.hosted)
        if s is None:
            return hosted
        gpu_of = {seg.node: seg.gpu for seg in s.segments}
        billed = sum(
            (b - a) * s.node_gpus[n] * self.prices[gpu_of[n]] / 3600
            for n in s.node_gpus
            for a, b in [s.node_span(n)]
        )
        return hosted + billed


def estimate(
    cfg: SweepConfig,
    p: Plan,
    settings: cost.CostSettings,
    pilot: Mapping[tokens.Shape, Mapping[str, float]] | None = None,
    pilot_dir: str = "",
) -> CostEstimate:
    """The cost of ``p`` on ``cfg``'s backend and cluster (module docstring)."""
    shapes = tokens.estimate(
        p.specs, settings.reply_scale, settings.samples, settings.cache_block_tokens
    )
    source = "estimate (sim-length replies x cost.reply_scale over the rendered prompts)"
    if pilot is not None:
        shapes = tokens.calibrate(shapes, pilot)
        hit = sum(1 for k in shapes if k in pilot)
        source = f"pilot {pilot_dir}: {hit} of {len(shapes)} cell shapes measured, others scaled"
    totals, episodes, measured = _totals(p, shapes)
    caching = cfg.backend.options.prefix_caching
    served = not backend_entry(cfg.backend.name).external  # GPU figures: vllm's (or the sim's)
    available = tuple(sorted(cfg.cluster.gpus_by_type or {}))
    rows: list[ModelCost] = []
    jobs: list[Job] = []
    for (name, part), t in sorted(totals.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        model = cfg.models[name] if part == "agents" else cfg.judge.model
        row, job = _model_row(
            model,
            part,
            t,
            episodes[(name, part)],
            measured[(name, part)],
            settings,
            served,
            caching,
            available,
        )
        rows.append(row)
        if job is not None:
            jobs.append(job)
    notes = _notes(cfg, settings, jobs)
    if not jobs:
        return CostEstimate(tuple(rows), None, None, {}, notes, source)
    gpus = dict(cfg.cluster.gpus_by_type or schedule.required_gpus(jobs))
    nodes = schedule.nodes_of(gpus, cfg.cluster.gpus_per_node)
    plan_s = schedule.scheduled(jobs, nodes, cfg.cluster.gpus_per_node)
    today = schedule.all_at_once(
        [Job(**{**asdict(j), "deferred": False, "pinned": False}) for j in jobs],
        cfg.cluster.gpus_per_node,
    )
    swaps = _swap_shares(cfg, p, shapes, rows, settings)
    ph, executed, why = _executor(cfg, p, settings, jobs, nodes, plan_s, swaps)
    notes += why
    cap = cfg.cluster.max_concurrent_models
    if executed is not None and cap and plan_s.peak_models() > cap:
        notes += (
            f"cluster.max_concurrent_models={cap}: the per-node schedule would serve "
            f"{plan_s.peak_models()} models at once; 'scheduled' is the executor's phases",
        )
        plan_s = executed
    billed = _billed_by_model(plan_s)
    prices = {g.name: g.usd_per_gpu_hour for g in settings.gpu_types}
    rows = [
        r if r.hosted or not r.gpu else _with_billing(r, billed.get(r.model, 0.0), prices[r.gpu])
        for r in rows
    ]
    return CostEstimate(tuple(rows), plan_s, today, prices, notes, source, ph, executed)


def _executor(
    cfg: SweepConfig,
    p: Plan,
    settings: cost.CostSettings,
    jobs: Sequence[Job],
    nodes: Sequence[str],
    plan_s: Schedule,
    swap_share: Mapping[str, float] | None = None,
) -> tuple[tuple[Phase, ...], Schedule | None, tuple[str, ...]]:
    """The executor's phases (sweep/phases.py), laid out on the nodes, and a note when there
    are none. ``cost.judge=deferred``: the agents' phases without the judge, then the judge's
    own pass (``defers_judge``); inline: the judge served in every phase."""
    judges = {spec.judge.model.name for spec in p.specs}
    deferred = defers_judge(settings, p.specs)
    try:
        own = plan_s if deferred or settings.judge == "inline" else None
        served = own or _inline_schedule(jobs, nodes, cfg)
    except UserError as e:  # planned deferred, but the executor could not run it inline
        return (), None, (f"no executor phases: {e}",)
    pinned, last = ((), judges) if deferred else (judges, ())
    ph = phases.from_schedule(
        served,
        list(dict.fromkeys(spec.model.name for spec in p.specs)),
        cap=cfg.cluster.max_concurrent_models,
        companions=phases.companions(p.specs),
        pinned=pinned,
        last=last,
        swap_share=swap_share,
    )
    return ph, phases.render(ph, jobs, cfg.cluster.gpus_per_node, pinned), ()


def _swap_shares(
    cfg: SweepConfig,
    p: Plan,
    shapes: Mapping[tokens.Shape, tokens.ShapeTokens],
    rows: Sequence[ModelCost],
    s: cost.CostSettings,
) -> dict[str, float]:
    """Agent model -> share of its GPU work in episodes that also call a replacement model
    (a swap_model shock; ``phases.work_key``): uncached prompt over prefill plus completion over
    decode, at its rates, as its row's GPU-seconds are."""
    row = {r.model: r for r in rows if r.part == "agents" and r.gpu}
    rate = {m: cost.rates(cfg.models[m], s.gpu(r.gpu), s) for m, r in row.items() if r.gpu}
    swap: dict[str, float] = defaultdict(float)
    every: dict[str, float] = defaultdict(float)
    for spec in p.specs:
        name = spec.model.name
        t = shapes[tokens.shape(spec)].agents.get(name) if name in rate else None
        if t is None:
            continue
        w = rate[name].replica_s(t.prompt * (1 - row[name].cached_share), t.completion)
        every[name] += w
        if phases.work_key(spec) != name:
            swap[name] += w
    return {m: swap[m] / every[m] for m in swap if every[m] > 0}


def defers_judge(settings: cost.CostSettings, specs: Sequence[EpisodeSpec]) -> bool:
    """The judge runs as its own pass after the agents: ``cost.judge=deferred``, unless a judge
    is also an agent model (its episodes need it served with them: judged inline)."""
    judges = {s.judge.model.name for s in specs}
    return settings.judge == "deferred" and not judges & {s.model.name for s in specs}


def _inline_schedule(jobs: Sequence[Job], nodes: Sequence[str], cfg: SweepConfig) -> Schedule:
    """The per-node schedule with the judge served beside the agents (``cost.judge=inline``)."""
    pinned = [Job(**{**asdict(j), "deferred": False, "pinned": j.deferred}) for j in jobs]
    return schedule.scheduled(pinned, nodes, cfg.cluster.gpus_per_node)


Totals = dict[tuple[str, str], tokens.ModelTokens]


def _totals(
    p: Plan, shapes: Mapping[tokens.Shape, tokens.ShapeTokens]
) -> tuple[Totals, dict[tuple[str, str], int], dict[tuple[str, str], bool]]:
    totals: Totals = defaultdict(tokens.ModelTokens)
    episodes: dict[tuple[str, str], int] = defaultdict(int)
    measured: dict[tuple[str, str], bool] = defaultdict(bool)
    for spec in p.specs:
        st = shapes[tokens.shape(spec)]
        for name, t in st.agents.items():
            totals[(name, "agents")] += t
            episodes[(name, "agents")] += 1
            measured[(name, "agents")] |= st.measured
        key = (spec.judge.model.name, "judge")
        totals[key] += st.judge
        episodes[key] += 1
        measured[key] |= st.measured
    return totals, episodes, measured


def _model_row(
    model: ModelSpec,
    part: str,
    t: tokens.ModelTokens,
    episodes: int,
    measured: bool,
    s: cost.CostSettings,
    served: bool,
    caching: bool,
    available: tuple[str, ...],
) -> tuple[ModelCost, Job | None]:
    share = s.cache_hit_share if s.cache_hit_share is not None else t.cached / max(t.prompt, 1)
    share = share if caching else 0.0
    base = ModelCost(
        model.name,
        part,
        model.hosted,
        episodes,
        t.calls,
        t.prompt,
        t.completion,
        share,
        measured=measured,
    )
    if model.hosted:
        usd = cost.hosted_usd(model, t.prompt, t.completion)
        return ModelCost(**{**asdict(base), "usd": usd}), None
    if not served:  # an OpenAI-compatible server someone else runs: tokens only
        return base, None
    w = cost.self_hosted_work(model, t.prompt, t.completion, share, s, available)
    row = ModelCost(
        **{
            **asdict(base),
            "gpu": w.gpu,
            "gpus_per_replica": w.gpus_per_replica,
            "gpu_s": w.gpu_s,
            "load_s": w.load_s,
        }
    )
    job = Job(
        model.name,
        w.gpu,
        w.gpus_per_replica,
        w.gpu_s,
        w.load_s,
        model.replicas,
        deferred=part == "judge" and s.judge == "deferred",
        pinned=part == "judge" and s.judge == "inline",
    )
    return row, job


def _billed_by_model(s: Schedule) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for seg in s.segments:
        out[seg.model] += (seg.end_s - seg.start_s) * s.node_gpus[seg.node]
    return out


def _with_billing(r: ModelCost, billed_gpu_s: float, price: float) -> ModelCost:
    return ModelCost(
        **{**asdict(r), "billed_gpu_s": billed_gpu_s, "usd": billed_gpu_s * price / 3600}
    )


def _notes(cfg: SweepConfig, s: cost.CostSettings, jobs: Sequence[Job]) -> tuple[str, ...]:
    notes = []
    entry = backend_entry(cfg.backend.name)
    if entry.synthetic:
        notes.append(
            f"{cfg.backend.name} backend: it needs no GPU; the GPU figures are what "
            "backend=vllm would take"
        )
    if entry.external:
        notes.append(
            f"backend={cfg.backend.name}: hosted models at list prices; nothing is sent (no "
            "key needed)"
        )
    if jobs and s.judge == "deferred":
        notes.append(
            "judge: deferred: the agents' phases run without the judge and its own pass judges "
            "the stored deliverables last (on a backend that serves its models, e.g. vllm; "
            "cost.judge=inline serves it beside the agents in every phase)"
        )
    swap = {sh.model.name for b in cfg.blocks for sh in b.shocks if sh is not None and sh.model}
    if swap & {j.model for j in jobs}:
        notes.append(
            f"{', '.join(sorted(swap))} (swap_model shock) must be served beside the "
            "model it replaces; scheduled here as its own job"
        )
    return tuple(notes)


def as_json(e: CostEstimate) -> dict[str, Any]:
    """The ``"cost"`` object of ``orgsweep plan --json`` (keys documented in docs/cluster.md)."""

    def sched(s: Schedule | None) -> dict[str, Any] | None:
        if s is None:
            return None
        return {
            "makespan_h": s.makespan_s / 3600,
            "billed_gpu_h": s.billed_gpu_s / 3600,
            "busy_gpu_h": s.work_gpu_s / 3600,
            "busy_share": s.busy_share,
            "lower_bound_gpu_h": s.lower_bound_gpu_s / 3600,
            "nodes": len(s.node_gpus),
            "peak_models": s.peak_models(),
            "usd": e.usd(s),
            "segments": [asdict(seg) for seg in s.segments],
        }

    return {
        "source": e.source,
        "models": [asdict(m) for m in e.models],
        "total": {
            "prompt_tokens": sum(m.prompt_tokens for m in e.models),
            "completion_tokens": sum(m.completion_tokens for m in e.models),
            "gpu_h": sum(m.gpu_s for m in e.models) / 3600,
            "usd": e.usd(e.scheduled),
        },
        "scheduled": sched(e.scheduled),
        "all_at_once": sched(e.today),
        "executor": None
        if e.executed is None
        else {
            **(sched(e.executed) or {}),
            "phases": [{"agents": list(p.agents), "replicas": p.replicas_of()} for p in e.phases],
        },
        "prices_usd_per_gpu_h": dict(e.prices),
        "notes": list(e.notes),
    }


def lines(e: CostEstimate) -> Iterable[str]:
    """The cost part of ``orgsweep plan``'s text output."""
    yield f"cost ({e.source}):"
    yield (
        f"  {'model':<20} {'part':<6} {'prompt tok':>12} {'compl tok':>11} {'cache':>6} "
        f"{'GPU':>5} {'GPU-h work':>10} {'GPU-h billed':>12} {'USD':>10}"
    )
    for m in e.models:
        usd = "-" if m.usd is None else f"{m.usd:,.0f}"
        gpu = f"{m.gpu}x{m.gpus_per_replica}" if m.gpu else ("hosted" if m.hosted else "-")
        mark = "*" if m.measured else " "
        yield (
            f"  {m.model:<20} {m.part:<6} {m.prompt_tokens:>12,.0f} {m.completion_tokens:>11,.0f}"
            f"{mark}{m.cached_share:>5.0%} {gpu:>5} {m.gpu_s / 3600:>10.1f} "
            f"{m.billed_gpu_s / 3600:>12.1f} {usd:>10}"
        )
    total_p = sum(m.prompt_tokens for m in e.models)
    total_c = sum(m.completion_tokens for m in e.models)
    yield (
        f"  {'total':<27} {total_p:>12,.0f} {total_c:>11,.0f}        "
        f"{sum(m.gpu_s for m in e.models) / 3600:>10.1f}"
    )
    shown = (
        ("scheduled", e.scheduled),
        ("executor phases", e.executed),
        ("all at once (today)", e.today),
    )
    for label, s in shown:
        if s is None:
            continue
        yield (
            f"  {label}: makespan {s.makespan_s / 3600:.1f} h, billed {s.billed_gpu_s / 3600:.1f}"
            f" GPU-h on {len(s.node_gpus)} nodes (lower bound {s.lower_bound_gpu_s / 3600:.1f})"
            f", busy share {s.busy_share:.2f}, USD {e.usd(s):,.0f}"
        )
    if e.scheduled is not None:
        yield "  schedule (node: model x replicas from-to h, load included):"
        for node in sorted(e.scheduled.node_gpus):
            segs = [s for s in e.scheduled.segments if s.node == node]
            text = "; ".join(
                f"{s.model} x{s.replicas} {s.start_s / 3600:.2f}-{s.end_s / 3600:.2f}" for s in segs
            )
            yield f"    node {node} ({segs[0].gpu}x{e.scheduled.node_gpus[node]}): {text}"
    if e.phases:
        yield "  executor phases (deploy, drain, release; sweep/phases.py):"
        for i, p in enumerate(e.phases):
            yield f"    {i + 1}: {p.describe()}"
    if any(m.measured for m in e.models):
        yield "  * tokens measured by the pilot"
    for n in e.notes:
        yield f"  note: {n}"
