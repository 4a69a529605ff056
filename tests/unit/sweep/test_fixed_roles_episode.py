"""Fixed roles are drawn once per episode: every agent keeps its role on every step, so RSI under
fixed roles is 1 on the sim (they were re-drawn per step from each task's domain: RSI 0.17)."""

from __future__ import annotations

import asyncio

import polars as pl
import pyarrow as pa

from agents.backends.sim import SimBackend
from agents.catalogue import ModelSpec, SimProfile
from agents.judge import JudgeSpec
from agents.tasks import generate_tasks
from analysis import emergence as em
from sweep.episode import run_episode
from sweep.results.schema import AGENTS, RUNS
from sweep.spec import EpisodeSpec

MODEL = ModelSpec("sim_a", "sim/a", sim=SimProfile(capability=0.75))


def _episode(roles: str) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    tasks = tuple(generate_tasks(4, "L3", 3, namespace="fixed-roles"))
    assert len({t.domains[0] for t in tasks}) > 1  # steps from several domains
    spec = EpisodeSpec(
        "broadcast", (), MODEL, 6, roles, "L3", tasks, 0, "A mission.",
        JudgeSpec(ModelSpec("sim_judge", "sim/judge")),
    )  # fmt: skip
    rows = asyncio.run(run_episode(spec, SimBackend()))
    extra = {"backend": "sim", "batch": "b", "status": "ok"}
    runs = pa.Table.from_pylist([{**r, **extra} for r in rows.runs], schema=RUNS)
    agents = pa.Table.from_pylist([{**a, "batch": "b"} for a in rows.agents], schema=AGENTS)
    return pl.from_arrow(runs).lazy(), pl.from_arrow(agents).lazy()  # type: ignore[union-attr]


def test_fixed_roles_keep_their_role_on_every_step_and_rsi_is_one() -> None:
    runs, agents = _episode("fixed")
    roles = agents.collect().group_by("agent").agg(pl.col("role").n_unique())
    assert roles["role"].to_list() == [1] * roles.height
    rsi = em.role_stability(em.agent_rows(agents, runs)).collect()
    assert rsi["pairs"][0] > 0 and rsi["rsi"][0] == 1.0


def test_free_roles_are_not_forced_stable() -> None:
    runs, agents = _episode("free")
    rsi = em.role_stability(em.agent_rows(agents, runs)).collect()
    assert rsi["rsi"][0] < 1.0
