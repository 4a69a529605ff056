"""Tokens a plan will use, per cell shape and model: estimated from the real prompts, or a pilot's.

Estimate: for each cell shape (model, protocol and params, N, roles, level, steps, shock) the
first ``samples`` planned episodes are run in-process on the ``sim`` backend, which reads exactly
the prompts the templates render (agents.prompts). Every call is counted: prompt and completion
tokens, the part of the prompt that quotes peers' replies (between "## What you can see" and
"## Your turn"), and the prompt tokens a per-episode prefix cache of ``cache_block_tokens``-token
blocks would serve (vLLM's automatic prefix caching, block hashes chained from the start).
``reply_scale`` then scales replies and the quotes of them; the judge's deliverable part scales
too, up to its ``max_deliverable_tokens``. Sim replies are synthetic: the lengths are a model of
the real ones, which a pilot (``calibrate``) replaces by measurements.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from agents.backends import SYNTHETIC_ENGINE
from agents.backends.chat import ChatRequest, ChatResponse, estimate_tokens
from agents.backends.sim import SimBackend
from sweep.spec import EpisodeSpec, canonical_json

CHARS_PER_TOKEN = 4  # estimate_tokens' rule
_SEEN = "## What you can see\n"
_TURN = "\n\n## Your turn"
_DELIVERABLE = re.compile(r"\n<([^<>\s]+)>\n(.*)\n</\1>", re.DOTALL)

Shape = tuple[str, str, str, int, str, str, int, str]


def shape(spec: EpisodeSpec) -> Shape:
    """The cell shape an episode's token use depends on (not its task draw or seed)."""
    shock = spec.shock.kind if spec.shock else ""
    params = canonical_json(spec.params)
    return (
        spec.model.name,
        spec.protocol,
        params,
        spec.n_agents,
        spec.roles,
        spec.level,
        spec.steps,
        shock,
    )


@dataclass(frozen=True)
class ModelTokens:
    """Tokens one model serves for one episode (mean over the samples)."""

    calls: float = 0.0
    prompt: float = 0.0
    completion: float = 0.0
    cached: float = 0.0  # prompt tokens a prefix cache serves

    def __add__(self, o: ModelTokens) -> ModelTokens:
        return ModelTokens(
            self.calls + o.calls,
            self.prompt + o.prompt,
            self.completion + o.completion,
            self.cached + o.cached,
        )

    def times(self, k: float) -> ModelTokens:
        return ModelTokens(self.calls * k, self.prompt * k, self.completion * k, self.cached * k)


@dataclass(frozen=True)
class ShapeTokens:
    """Per-episode tokens of a cell shape, by serving model (the judge under its own key)."""

    agents: Mapping[str, ModelTokens]
    judge: ModelTokens
    measured: bool = False  # from a pilot's results
    latency_s: float | None = None  # pilot: mean wall seconds per step


@dataclass
class _Recorder:
    """A sim backend that counts every call (tokens, quoted peers, prefix-cache hits)."""

    reply_scale: float
    block_chars: int
    max_tokens: int
    judge_max_deliverable: int
    sim: SimBackend = field(default_factory=SimBackend)
    blocks: set[int] = field(default_factory=set)
    agents: dict[str, ModelTokens] = field(default_factory=lambda: defaultdict(ModelTokens))
    judge: ModelTokens = ModelTokens()

    async def chat(self, request: ChatRequest) -> ChatResponse:
        r = await self.sim.chat(request)
        text = "".join(f"<{m.role}>{m.content}" for m in request.messages)
        cached = self._cache(text) / CHARS_PER_TOKEN
        if request.purpose == "judge":
            # The deliverable is what grows with longer replies; the rubric and task do not.
            body = _deliverable(request)
            grown = min(body * self.reply_scale, self.judge_max_deliverable)
            p = r.prompt_tokens - body + grown
            self.judge += ModelTokens(1, p, r.completion_tokens, min(cached, p))
            return r
        quoted = sum(_quoted(m.content) for m in request.messages)
        p = r.prompt_tokens + (self.reply_scale - 1.0) * quoted
        c = min(r.completion_tokens * self.reply_scale, self.max_tokens)
        self.agents[request.model.name] += ModelTokens(1, p, c, min(cached, p))
        return r

    def _cache(self, text: str) -> int:
        """Characters served from cached blocks: the leading run of blocks seen before."""
        h, hit, missed = 0, 0, False
        for i in range(0, len(text) - self.block_chars + 1, self.block_chars):
            h = hash((h, text[i : i + self.block_chars]))
            if not missed and h in self.blocks:
                hit += self.block_chars
            else:
                missed = True
                self.blocks.add(h)
        return hit

    async def aclose(self) -> None:
        return None


def _quoted(content: str) -> int:
    start = content.find(_SEEN)
    if start < 0:
        return 0
    end = content.find(_TURN, start)
    return estimate_tokens(content[start + len(_SEEN) : end if end >= 0 else len(content)])


def _deliverable(request: ChatRequest) -> int:
    """Tokens of the delimited deliverable in a judge prompt (agents.judge.judge_messages)."""
    for m in request.messages:
        if found := _DELIVERABLE.search(m.content):
            return estimate_tokens(found.group(2))
    return 0


def _run(spec: EpisodeSpec, reply_scale: float, block_tokens: int) -> tuple[ShapeTokens, int]:
    from sweep.episode import run_episode

    rec = _Recorder(
        reply_scale,
        block_tokens * CHARS_PER_TOKEN,
        spec.max_tokens,
        spec.judge.max_deliverable_tokens,
    )
    sim_spec = replace(spec, engine=SYNTHETIC_ENGINE)
    asyncio.run(run_episode(sim_spec, rec))
    return ShapeTokens(dict(rec.agents), rec.judge), spec.steps


def estimate(
    specs: Sequence[EpisodeSpec], reply_scale: float = 1.0, samples: int = 2, block_tokens: int = 16
) -> dict[Shape, ShapeTokens]:
    """Per-episode tokens of every cell shape of ``specs`` (module docstring)."""
    picked: dict[Shape, list[EpisodeSpec]] = defaultdict(list)
    for s in specs:
        if len(picked[shape(s)]) < samples:
            picked[shape(s)].append(s)
    return {k: _mean([_run(s, reply_scale, block_tokens)[0] for s in v]) for k, v in picked.items()}


def _mean(items: Sequence[ShapeTokens]) -> ShapeTokens:
    k = 1.0 / len(items)
    agents: dict[str, ModelTokens] = defaultdict(ModelTokens)
    judge = ModelTokens()
    for it in items:
        for m, t in it.agents.items():
            agents[m] += t.times(k)
        judge += it.judge.times(k)
    return ShapeTokens(dict(agents), judge)


PILOT_COLUMNS = (
    "episode_id",
    "model",
    "protocol",
    "protocol_params",
    "n_agents",
    "roles",
    "level",
    "steps",
    "shock",
    "prompt_tokens",
    "completion_tokens",
    "judge_prompt_tokens",
    "judge_completion_tokens",
    "wall_s",
)


def pilot_shapes(rows: Iterable[Mapping[str, Any]]) -> dict[Shape, dict[str, float]]:
    """Measured per-episode means by cell shape from a pilot's ``runs`` rows (one per step)."""
    episodes: dict[str, dict[str, Any]] = {}
    for r in rows:
        e = episodes.setdefault(
            str(r["episode_id"]),
            {"key": r, "shock": "", "p": 0.0, "c": 0.0, "jp": 0.0, "jc": 0.0, "wall": 0.0, "n": 0},
        )
        e["shock"] = e["shock"] or (r["shock"] or "")
        e["p"] += float(r["prompt_tokens"] or 0)
        e["c"] += float(r["completion_tokens"] or 0)
        e["jp"] += float(r["judge_prompt_tokens"] or 0)
        e["jc"] += float(r["judge_completion_tokens"] or 0)
        e["wall"] += float(r["wall_s"] or 0)
        e["n"] += 1
    out: dict[Shape, list[dict[str, Any]]] = defaultdict(list)
    for e in episodes.values():
        r = e["key"]
        params = canonical_json(json.loads(r["protocol_params"] or "{}"))
        shape_key: Shape = (
            r["model"],
            r["protocol"],
            params,
            int(r["n_agents"]),
            r["roles"],
            r["level"],
            int(r["steps"]),
            e["shock"],
        )
        out[shape_key].append(e)
    return {
        k: {f: sum(e[f] for e in es) / len(es) for f in ("p", "c", "jp", "jc")}
        | {"wall_per_step": sum(e["wall"] / e["n"] for e in es) / len(es), "episodes": len(es)}
        for k, es in out.items()
    }


def calibrate(
    estimated: Mapping[Shape, ShapeTokens], pilot: Mapping[Shape, Mapping[str, float]]
) -> dict[Shape, ShapeTokens]:
    """Shapes the pilot ran take its measured tokens (split over models as estimated); the
    others are scaled by the pilot's measured / estimated ratio of their agent model."""
    ratios = _ratios(estimated, pilot)
    out: dict[Shape, ShapeTokens] = {}
    for k, est in estimated.items():
        if k in pilot:
            m = pilot[k]
            fp, fc = _share(est.agents, m["p"], "prompt"), _share(est.agents, m["c"], "completion")
            agents = {
                n: ModelTokens(t.calls, t.prompt * fp, t.completion * fc, t.cached * fp)
                for n, t in est.agents.items()
            }
            jf = m["jp"] / est.judge.prompt if est.judge.prompt else 1.0
            judge = ModelTokens(est.judge.calls, m["jp"], m["jc"], est.judge.cached * jf)
            out[k] = ShapeTokens(agents, judge, True, m["wall_per_step"])
        elif k[0] in ratios:
            rp, rc, rj = ratios[k[0]]
            agents = {
                n: ModelTokens(t.calls, t.prompt * rp, t.completion * rc, t.cached * rp)
                for n, t in est.agents.items()
            }
            j = est.judge
            out[k] = ShapeTokens(
                agents, ModelTokens(j.calls, j.prompt * rj, j.completion, j.cached)
            )
        else:
            out[k] = est
    return out


def _share(agents: Mapping[str, ModelTokens], measured: float, attr: str) -> float:
    total = sum(getattr(t, attr) for t in agents.values())
    return measured / total if total else 1.0


def _ratios(
    estimated: Mapping[Shape, ShapeTokens], pilot: Mapping[Shape, Mapping[str, float]]
) -> dict[str, tuple[float, float, float]]:
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0] * 6)
    for k, m in pilot.items():
        if k not in estimated:
            continue
        e = estimated[k]
        s = sums[k[0]]
        s[0] += m["p"]
        s[1] += sum(t.prompt for t in e.agents.values())
        s[2] += m["c"]
        s[3] += sum(t.completion for t in e.agents.values())
        s[4] += m["jp"]
        s[5] += e.judge.prompt
    return {
        model: (
            s[0] / s[1] if s[1] else 1.0,
            s[2] / s[3] if s[3] else 1.0,
            s[4] / s[5] if s[5] else 1.0,
        )
        for model, s in sums.items()
    }
