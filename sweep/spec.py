"""Run specifications and their content-addressed identity (docs/design/architecture.md section 3).

``episode_id`` hashes everything that changes a result (protocol and params, model id, revision
and sampling, N, role mode, task content, seed, steps, shock, mission, prompt and rubric versions,
judge, and whether the engine is the synthetic ``sim`` or a real model server) and nothing that
does not (block and sweep names, concurrency, paths, retries).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from agents.catalogue import ModelSpec
from agents.judge import JudgeSpec
from agents.prompts import PROMPT_VERSION
from agents.tasks import Task

ID_VERSION = 1
SHOCK_KINDS = ("remove_random", "remove_hub", "swap_model", "mission_shift")


@dataclass(frozen=True)
class ShockSpec:
    """An episode-level shock applied before step ``at_step`` (0-based)."""

    kind: str
    at_step: int = 1
    k: int = 1  # remove_random: agents removed
    fraction: float = 0.25  # swap_model: share of agents whose model is swapped
    model: ModelSpec | None = None  # swap_model: the replacement
    mission: str = ""  # mission_shift: the new mission text

    def identity(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "at_step": self.at_step}
        if self.kind == "remove_random":
            d["k"] = self.k
        if self.kind == "swap_model":
            d["fraction"] = self.fraction
            d["model"] = self.model.identity() if self.model else None
        if self.kind == "mission_shift":
            d["mission"] = self.mission
        return d


@dataclass(frozen=True)
class EpisodeSpec:
    """One unit of work, scheduling and resume: an organisation solving ``steps`` tasks."""

    protocol: str
    protocol_params: tuple[tuple[str, Any], ...]
    model: ModelSpec
    n_agents: int
    roles: str  # "free" | "fixed"
    level: str
    tasks: tuple[Task, ...]  # one per step
    seed: int
    mission: str
    judge: JudgeSpec
    temperature: float = 0.7
    max_tokens: int = 1024
    shock: ShockSpec | None = None
    prompt_version: str = PROMPT_VERSION
    # "sim" for the synthetic backend, "llm" for any real model server: served the same model
    # through vLLM or an OpenAI-compatible endpoint gives the same ids; sim never mixes in.
    engine: str = "llm"
    # Not part of the identity:
    sweep: str = field(default="", compare=False)
    block: str = field(default="", compare=False)
    store_prompts: bool = field(default=False, compare=False)

    @property
    def steps(self) -> int:
        return len(self.tasks)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.protocol_params)

    def identity(self) -> dict[str, Any]:
        return {
            "id_version": ID_VERSION,
            "protocol": self.protocol,
            "params": self.params,
            "model": self.model.identity(),
            "sampling": {"temperature": self.temperature, "max_tokens": self.max_tokens},
            "n_agents": self.n_agents,
            "roles": self.roles,
            "tasks": [t.content_hash for t in self.tasks],
            "seed": self.seed,
            "shock": self.shock.identity() if self.shock else None,
            "mission": self.mission,
            "prompt_version": self.prompt_version,
            "judge": self.judge.identity(),
            "engine": self.engine,
        }

    @cached_property
    def episode_id(self) -> str:
        return episode_id(self.identity())


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def episode_id(identity: dict[str, Any]) -> str:
    """Short hash (16 hex digits, 64 bits) of the canonical JSON of an identity."""
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:16]
