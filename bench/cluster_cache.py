"""Per-model prefix-cache hit shares for the cluster simulation, from the engine model's cache.

The planner (``sweep.tokens``) counts hits with one unbounded cache per episode. A replica of
vLLM holds one KV pool of limited size for every episode it serves at once: prompts of different
episodes share blocks (the system prompt, a task's text), and blocks are evicted least recently
released first when the pool is full. ``engine_shares`` measures that on a sample and gives each
model's share of prompt tokens the cache serves, for ``bench/cluster_sim.py``'s engines:

- the sample: per agent model, ``windows`` runs of ``window`` consecutive episodes of its
  dispatch order (``schedule.longest_first``), evenly spaced over it, run in-process on the sim
  backend with the prompt layout of ``agents.prompts.PROMPT_VERSION`` (p2); every call is
  recorded as its chat-template text (``bench.prefix_cache.chat_text``);
- the replay: one ``bench.prefix_cache.BlockPool`` per model and window (one replica), of
  ``kv_tokens(model)`` / 16 blocks; the window's episodes are in flight together and their
  calls are interleaved one by one; a call's full 16-token blocks (``BLOCK`` tokens of 4
  characters, ``char_tokens``' stand-in tokenizer, hashed chained from the start) are looked up
  (``cached_prefix``), held while up to ``max_num_seqs`` calls run, then released to the LRU;
- the judge's pool gets the judge calls of the same windows.

Reply lengths are the sim's (``--reply-scale`` grows the tokens, not these texts), and a
sample is a sample: the shares are a calibration of the throughput model, not a measurement
of vLLM. Records: BENCHMARKS.md section 7.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agents.backends import SYNTHETIC_ENGINE
from agents.backends.chat import ChatRequest, ChatResponse
from agents.backends.sim import SimBackend
from agents.catalogue import ModelSpec
from bench.prefix_cache import BLOCK, BlockPool, chat_text
from sweep import sizing
from sweep.cost import CostSettings, accelerator, weights_gb
from sweep.spec import EpisodeSpec
from sweep.tokens import CHARS_PER_TOKEN

CHARS = CHARS_PER_TOKEN  # characters per token: char_tokens' width, sweep.tokens' estimate
KV_BYTES_PER_TOKEN = 160e3  # GQA models of this catalogue: ~130-190 kB/token in bf16
GPU_MEMORY_UTILIZATION = 0.9  # vLLM's default share of GPU memory it takes


def kv_tokens(model: ModelSpec, s: CostSettings) -> int:
    """KV tokens a replica's pool holds: the memory vLLM takes on its GPUs less the weights."""
    gpu = accelerator(model, s)
    free_gb = model.gpus * gpu.memory_gb * GPU_MEMORY_UTILIZATION - weights_gb(model, s)
    return max(int(free_gb * 1e9 / KV_BYTES_PER_TOKEN), 4 * BLOCK)


def block_hashes(text: str) -> list[int]:
    """Chained hashes of the full blocks of ``text`` under the 4-character stand-in tokenizer
    (``prefix_cache.char_tokens`` then ``prefix_cache.block_hashes``, hashing characters)."""
    step = BLOCK * CHARS
    out, h = [], 0
    for i in range(0, len(text) - step + 1, step):
        h = hash((h, text[i : i + step]))
        out.append(h)
    return out


@dataclass
class _Recorder:
    """A sim backend that keeps every call's model and chat text, in call order."""

    sim: SimBackend = field(default_factory=SimBackend)
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        name = "judge" if request.purpose == "judge" else request.model.name
        self.calls.append((name, chat_text((m.role, m.content) for m in request.messages)))
        return await self.sim.chat(request)

    async def aclose(self) -> None:
        return None


def episode_calls(spec: EpisodeSpec) -> list[tuple[str, str]]:
    from sweep.episode import run_episode

    rec = _Recorder()
    asyncio.run(run_episode(dataclasses.replace(spec, engine=SYNTHETIC_ENGINE), rec))
    return rec.calls


@dataclass
class Replay:
    """One replica's pool: hits and prompt tokens of the calls it served."""

    pool: BlockPool
    seqs: int
    held: deque[list[int]] = field(default_factory=deque)
    hit_tokens: int = 0
    prompt_tokens: int = 0

    def call(self, text: str) -> None:
        hashes = block_hashes(text)
        while self.held and (len(self.held) >= self.seqs or self._short(hashes)):
            self.pool.release(self.held.popleft(), 0)
        hits = self.pool.cached_prefix(hashes)
        self.prompt_tokens += len(text) // CHARS
        if self.pool.cost(hashes, hits, 0) > self.pool.free:  # longer than the pool: uncached
            return
        self.hit_tokens += hits * BLOCK
        self.pool.acquire(hashes, hits, 0)
        self.held.append(hashes)

    def _short(self, hashes: list[int]) -> bool:
        return self.pool.cost(hashes, self.pool.cached_prefix(hashes), 0) > self.pool.free


def interleave(episodes: Sequence[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """The calls of episodes in flight together, one call of each in turn."""
    out: list[tuple[str, str]] = []
    queues = [deque(e) for e in episodes]
    while any(queues):
        for q in queues:
            if q:
                out.append(q.popleft())
    return out


def engine_shares(
    order: Sequence[EpisodeSpec],
    models: Mapping[str, ModelSpec],
    judge: ModelSpec,
    s: CostSettings,
    windows: int = 3,
    window: int | None = None,
) -> dict[str, float]:
    """Share of prompt tokens the engine model's cache serves, per model name and ``"judge"``
    (module docstring). ``window`` default: the episodes the runners keep in flight on one
    replica (``sizing.OVERLAP`` x ``max_num_seqs`` / the model's mean episode width)."""
    by_model: dict[str, list[EpisodeSpec]] = defaultdict(list)
    for spec in order:
        by_model[spec.model.name].append(spec)
    specs = {**models, "judge": judge}
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, eps in sorted(by_model.items()):
        mean_width = sum(sizing.width(e) for e in eps) / len(eps)
        in_flight = round(sizing.OVERLAP * models[name].max_num_seqs / mean_width)
        w = window or max(1, min(64, in_flight))
        step = max(len(eps) // windows, 1)
        for start in range(0, min(len(eps), windows * step), step):
            calls = interleave([episode_calls(e) for e in eps[start : start + w]])
            replays: dict[str, Replay] = {}
            for model, text in calls:
                m = specs.get(model)
                if m is None:
                    continue
                if model not in replays:
                    replays[model] = Replay(BlockPool(kv_tokens(m, s) // BLOCK), m.max_num_seqs)
                replays[model].call(text)
            for model, r in replays.items():
                stats[model][0] += r.hit_tokens
                stats[model][1] += r.prompt_tokens
    return {m: hit / total for m, (hit, total) in stats.items() if total}
