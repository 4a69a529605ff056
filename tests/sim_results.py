"""A sim results directory written in this process, without Ray: what ``orgsweep launch``
writes (rows and manifest) for a sweep on the sim backend, in one commit. Shared by the
report-presentation and viewer tests (``tests/unit/analysis``, ``tests/integration``)."""

from __future__ import annotations

import asyncio
from typing import Any

from agents.backends import make_backend
from sweep.config import build, compose
from sweep.episode import EpisodeRows, run_episode
from sweep.launch import manifest_text as _manifest
from sweep.plan import plan
from sweep.results.store import MANIFEST, ResultStore


def write_sim_results(results_dir: str, overrides: list[str], keep: int | None = None) -> int:
    """Run the planned episodes (the first ``keep`` only: a partial sweep) and commit them;
    returns the number of planned episodes."""
    overrides = [f"results_dir={results_dir}", *overrides]
    cfg = compose(overrides)
    typed, _ = build(cfg)
    p = plan(typed)
    specs = p.specs if keep is None else p.specs[:keep]
    backend = make_backend(typed.backend.name, typed.backend.options)

    async def run_all() -> list[EpisodeRows]:
        out = await asyncio.gather(*(run_episode(s, backend) for s in specs))
        await backend.aclose()
        return list(out)

    tables: dict[str, list[dict[str, Any]]] = {"runs": [], "agents": [], "transcripts": []}
    for rows in asyncio.run(run_all()):
        for r in rows.runs:
            r.update(backend=typed.backend.name, node="local")
        tables["runs"] += rows.runs
        tables["agents"] += rows.agents
        tables["transcripts"] += rows.transcripts
    store = ResultStore(results_dir)
    store.write_rows(tables)
    store.write_text(MANIFEST, _manifest(cfg, typed, p, overrides))
    store.write_plan([s.episode_id for s in p.specs])
    return len(p.specs)
