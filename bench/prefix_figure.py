"""Benchmark 5, the prefix-cache figure: how much of the paper sweep's prompt text a GPU must
prefill under prompt layouts p1 and p2.

A sample of the ``paper`` sweep (``--per-cell`` planned episodes of every protocol x N cell) runs
on the sim, once per layout, recording every request (agents, coordinator, repairs, judge) in
the order the episode sends it. Each prompt is rendered with SmolLM2's chat template and
tokenized with its real BPE tokenizer (``bench/gguf_tokenizer.py``), then replayed through
``bench.prefix_cache``, episodes interleaved ``--concurrent`` at a time as a runner would:

- **perfect**: a cache that never evicts (each distinct chained block prefilled once);
- **LRU**: the engine's pool of ``--kv-tokens`` (each request takes its blocks, then releases
  them to the LRU);
- **ideal**: each distinct 16-token block *content* prefilled once wherever it sits (blocks
  hashed without their prefix): what any layout could at best reach.

Every figure is the prefilled share of the prompt tokens sent; the sweep-wide figure weights
each cell by its planned episodes. Each model has its own engine and caches, so the judge's calls
(another model) are reported apart from the agents' (agent turns, coordinator, repairs). The
text is the sim's (synthetic replies), the tokenizer real.

Run: ``python -m bench prefix`` (needs the ``bench`` extra; ~2 min).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from agents.backends.chat import ChatRequest, ChatResponse
from agents.backends.sim import SimBackend
from bench.common import record, say
from bench.gguf_tokenizer import chat_template, load
from bench.prefix_cache import BLOCK, BlockPool, block_hashes

Cell = tuple[str, int]  # (protocol, N)


class _Recorder:
    def __init__(self) -> None:
        self.sim = SimBackend()
        self.calls: list[tuple[str, str]] = []  # (model, chat text)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        text = chat_template([(m.role, m.content) for m in request.messages])
        self.calls.append((request.model.name, text))
        return await self.sim.chat(request)


def sample(per_cell: int) -> tuple[list[Any], Counter[Cell]]:
    """``per_cell`` episodes of every (protocol, N) cell of the paper sweep, spread over its
    blocks and levels, and the planned episodes per cell."""
    from sweep.config import build, compose
    from sweep.plan import plan

    cfg, _ = build(compose(["sweep=paper"]))
    specs = plan(cfg).specs
    count = Counter((s.protocol, s.n_agents) for s in specs)
    by_cell: dict[Cell, list[Any]] = defaultdict(list)
    for s in specs:
        by_cell[(s.protocol, s.n_agents)].append(s)
    chosen = []
    for cell in sorted(by_cell):
        pool = by_cell[cell]
        step = max(1, len(pool) // per_cell)
        chosen += pool[::step][:per_cell]
    return chosen, count


def prompts(specs: Sequence[Any], version: str) -> list[list[tuple[str, str]]]:
    """Every request's (model, chat text), per episode, with ``version``'s layout."""
    from sweep.episode import run_episode

    out = []
    for spec in specs:
        rec = _Recorder()
        asyncio.run(run_episode(replace(spec, prompt_version=version), rec))  # type: ignore[arg-type]
        out.append(rec.calls)
    return out


@dataclass
class Tally:
    """Prompt tokens sent, and those computed with a perfect (unbounded) prefix cache, an LRU
    pool of the engine's size, and each distinct block once (the ideal)."""

    prompt: int = 0
    perfect: int = 0
    lru: int = 0
    ideal: int = 0


def interleave(episodes: Sequence[Sequence[Any]], k: int) -> Iterator[tuple[int, Any]]:
    """Calls of ``k`` episodes at a time, round robin, each episode's own order kept."""
    live: list[tuple[int, Iterator[Any]]] = []
    todo = iter(enumerate(episodes))
    while True:
        while len(live) < k and (nxt := next(todo, None)) is not None:
            live.append((nxt[0], iter(nxt[1])))
        if not live:
            return
        for pair in list(live):
            item = next(pair[1], None)
            if item is None:
                live.remove(pair)
            else:
                yield pair[0], item


class _Caches:
    """One model's engine: the three caches of its calls."""

    def __init__(self, kv_tokens: int):
        self.seen: set[int] = set()
        self.content: set[int] = set()
        self.pool = BlockPool(kv_tokens // BLOCK)

    def add(self, t: Tally, ids: list[int]) -> None:
        n, hashes = len(ids), block_hashes(ids)
        tail = n - BLOCK * len(hashes)
        t.prompt += n
        t.perfect += BLOCK * sum(1 for h in hashes if h not in self.seen) + tail
        self.seen.update(hashes)
        blocks = [hash(tuple(ids[i : i + BLOCK])) for i in range(0, BLOCK * len(hashes), BLOCK)]
        t.ideal += BLOCK * len(set(blocks) - self.content) + tail
        self.content.update(blocks)
        hits = min(self.pool.cached_prefix(hashes), (n - 1) // BLOCK)
        anon = max(1, -(-n // BLOCK)) - len(hashes)
        self.pool.acquire(hashes, hits, anon)
        self.pool.release(hashes, anon)
        t.lru += n - BLOCK * hits


def replay(
    episodes: Sequence[Sequence[tuple[str, list[int]]]], judges: set[str], kv_tokens: int, k: int
) -> list[dict[str, Tally]]:
    """Per-episode tallies (``agents``: every call to an agent model, coordinator and repairs
    included; ``judge``) of the three caches; each model has its own engine and caches."""
    engines: dict[str, _Caches] = {}
    out = [{"agents": Tally(), "judge": Tally()} for _ in episodes]
    for e, (model, ids) in interleave(episodes, k):
        caches = engines.setdefault(model, _Caches(kv_tokens))
        caches.add(out[e]["judge" if model in judges else "agents"], ids)
    return out


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench prefix", description=__doc__)
    ap.add_argument("--per-cell", type=int, default=1, help="episodes per protocol x N cell")
    ap.add_argument("--kv-tokens", type=int, default=96_000, help="the LRU pool (engine default)")
    ap.add_argument("--concurrent", type=int, default=32, help="episodes interleaved")
    args = ap.parse_args(argv)
    specs, planned = sample(args.per_cell)
    say(f"prefix: {len(specs)} episodes of {len(planned)} cells; loading SmolLM2's tokenizer")
    tok = load()
    cells = [(s.protocol, s.n_agents) for s in specs]
    judges = {s.judge.model.name for s in specs}
    result: dict[str, list[dict[str, Tally]]] = {}
    for version in ("p1", "p2"):
        calls = prompts(specs, version)
        flat = [text for ep in calls for _, text in ep]
        ids = iter(e.ids for e in tok.encode_batch(flat, add_special_tokens=False))
        tokens = [[(model, next(ids)) for model, _ in ep] for ep in calls]
        result[version] = replay(tokens, judges, args.kv_tokens, args.concurrent)
        sent = sum(t["agents"].prompt + t["judge"].prompt for t in result[version])
        say(f"  {version}: {len(flat)} requests, {sent} prompt tokens")
    rows = {kind: table(cells, result, planned, kind) for kind in ("agents", "judge")}
    for kind, kind_rows in rows.items():
        say(f"{kind} calls (the judge model has its own engine):")
        for r in kind_rows:
            say(_row_line(r))
    path = record("prefix", {"params": vars(args), "rows": rows, "judge_models": sorted(judges)})
    say(f"appended to {path}")
    return 0


def table(
    cells: Sequence[Cell],
    result: dict[str, list[dict[str, Tally]]],
    planned: Counter[Cell],
    kind: str,
) -> list[dict[str, Any]]:
    """Per protocol x N, per protocol and sweep-wide (weighted by planned episodes) shares."""
    groups: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for i, cell in enumerate(cells):
        weight = planned[cell] / cells.count(cell)
        for key in ((cell[0], str(cell[1])), (cell[0], "all"), ("sweep", "all")):
            groups[key].append((i, weight))
    rows = []
    for (proto, n), members in groups.items():
        row: dict[str, Any] = {"protocol": proto, "n_agents": n, "episodes": len(members)}
        for v, per_episode in result.items():
            tallies = [t[kind] for t in per_episode]
            sent = sum(w * tallies[i].prompt for i, w in members)
            row[f"{v}_prompt_tokens"] = sent
            for cache in ("perfect", "lru", "ideal"):
                got = sum(w * getattr(tallies[i], cache) for i, w in members)
                row[f"{v}_{cache}"] = got / sent if sent else 0.0
        row["perfect_p1_over_p2"] = row["p1_perfect"] / max(row["p2_perfect"], 1e-12)
        row["lru_p1_over_p2"] = row["p1_lru"] / max(row["p2_lru"], 1e-12)
        rows.append(row)
    return sorted(rows, key=lambda r: (r["protocol"] == "sweep", r["protocol"], _n(r)))


def _n(r: dict[str, Any]) -> int:
    return 10**6 if r["n_agents"] == "all" else int(r["n_agents"])


def _row_line(r: dict[str, Any]) -> str:
    return (
        f"  {r['protocol']:14s} N={r['n_agents']:>4s}  prompt tokens {r['p2_prompt_tokens']:.3g}  "
        f"perfect p1 {r['p1_perfect']:.3f} p2 {r['p2_perfect']:.3f} "
        f"({r['perfect_p1_over_p2']:.1f}x)  LRU p1 {r['p1_lru']:.3f} p2 {r['p2_lru']:.3f} "
        f"({r['lru_p1_over_p2']:.1f}x)  ideal {r['p2_ideal']:.3f}"
    )
