"""Planning: config -> episode specs. Pure: no I/O, no clock, no randomness but the seeds.

Each block is a grid (models x protocols x N x roles x levels x shocks x seeds x tasks). Tasks are
generated per (block, level) from the sweep seed, so every cell of a block sees the same tasks
(paired comparisons across protocols and models), and different blocks see different tasks.
``sweep.limit=K`` keeps a stratified pilot: every block in turn, its extremes of N first, models
and protocols varying fastest (the rule is in ``sweep.pilot``); a full plan is unaffected.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from agents.backends import backend_entry
from agents.protocols import PROTOCOLS, make_params
from agents.tasks import Task
from sweep import task_source
from sweep.config import Block, SweepConfig
from sweep.pilot import pilot
from sweep.spec import EpisodeSpec


@dataclass(frozen=True)
class Plan:
    specs: tuple[EpisodeSpec, ...]
    by_block: dict[str, int]
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    duplicates: int = 0

    @property
    def ids(self) -> list[str]:
        return [s.episode_id for s in self.specs]

    def digest(self) -> str:
        """A fingerprint of the planned episode ids (order-independent)."""
        return hashlib.sha256("\n".join(sorted(self.ids)).encode()).hexdigest()[:16]


def _cells(block: Block) -> Iterator[tuple[Any, ...]]:
    """The block's grid, models and protocols varying fastest, so that the first episodes of a
    block already span every model and protocol (``sweep.pilot`` draws pilots in this order)."""
    for seed, t, level, n, roles, shock, proto, model in itertools.product(
        block.seeds,
        range(block.tasks_per_cell),
        block.levels,
        block.n_agents,
        block.roles,
        block.shocks,
        block.protocols,
        block.models,
    ):
        yield model, proto, n, roles, level, shock, seed, t


def block_tasks(cfg: SweepConfig, block: Block, level: str) -> list[Task]:
    """Generated, or drawn from the user's task file (``sweep.task_source``)."""
    return task_source.block_tasks(cfg.tasks, cfg.seed, block, level)


def plan(cfg: SweepConfig) -> Plan:
    specs: list[EpisodeSpec] = []
    seen: set[str] = set()
    by_block: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    dups = 0
    for block in cfg.blocks:
        tasks = {lv: block_tasks(cfg, block, lv) for lv in block.levels}
        for model, proto, n, roles, level, shock, seed, t in _cells(block):
            if roles == "fixed" and not PROTOCOLS[proto.name].fixed_roles_allowed:
                skipped[f"{proto.name} with fixed roles (the coordinator assigns roles)"] += 1
                continue
            spec = EpisodeSpec(
                protocol=proto.name,
                protocol_params=proto.params,
                model=cfg.models[model],
                n_agents=n,
                roles=roles,
                level=level,
                tasks=tuple(tasks[level][t * block.steps : (t + 1) * block.steps]),
                seed=seed,
                mission=cfg.mission,
                judge=cfg.judge,
                temperature=cfg.temperature,
                max_tokens=cfg.max_tokens,
                shock=shock,
                engine=backend_entry(cfg.backend.name).engine,
                sweep=cfg.name,
                block=block.name,
                store_prompts=cfg.store_prompts,
                prompt_version=cfg.prompt_version,
            )
            if spec.episode_id in seen:
                dups += 1
                continue
            seen.add(spec.episode_id)
            specs.append(spec)
            by_block[block.name] += 1
    if cfg.limit is not None:
        specs = pilot(specs, cfg.limit)  # a stratified pilot: the rule is in sweep.pilot
        by_block = Counter(s.block for s in specs)
    return Plan(tuple(specs), dict(by_block), dict(skipped), dups)


def calls_per_episode(spec: EpisodeSpec) -> int:
    """Expected agent calls (an upper bound where a protocol may skip agents)."""
    entry = PROTOCOLS[spec.protocol]
    return entry.calls(spec.n_agents, make_params(spec.protocol, spec.params)) * spec.steps


def plan_summary(p: Plan) -> dict[str, Any]:
    """Counts for ``orgsweep plan``: per block, model, protocol and N, plus expected calls."""

    def count(key: str) -> dict[str, int]:
        # Sorted by value, so N sorts as numbers (4, 8, 16, ...), not as text.
        return {str(k): v for k, v in sorted(Counter(getattr(s, key) for s in p.specs).items())}

    return {
        "total_runs": sum(s.steps for s in p.specs),
        "episodes": len(p.specs),
        "by_block": p.by_block,
        "by_model": {s: c for s, c in Counter(s.model.name for s in p.specs).items()},
        "by_protocol": count("protocol"),
        "by_n_agents": count("n_agents"),
        "by_level": count("level"),
        "agent_calls": sum(calls_per_episode(s) for s in p.specs),
        "judge_calls": sum(s.steps for s in p.specs),
        "skipped": p.skipped,
        "duplicates_removed": p.duplicates,
        "plan_digest": p.digest(),
    }
