"""The judge's own pass (``cost.judge=deferred`` on a backend that serves its models).

The agent phases run their episodes without calling the judge and commit their rows as usual,
each marked ``judge_deferred`` (sweep/episode.py); then this pass deploys only the judge (the
last deployment phase, sweep/phases.py) and judges the stored deliverables of those steps with
the code of ``orgsweep rescore`` (sweep/rescore.py: the plan rebuilt, each deliverable's task,
mission and judge seed as the inline judge would have had them) into the sweep's own score set
``default`` of the ``scores`` table. Readers put those scores in place of the deferred rows'
nulls (``sweep.results.scores.with_deferred_scores``), so a deferred sweep reads like an
inline-judged one. Resumable: steps the set already scored are skipped, so a launch after an
interruption judges the rest and re-runs no agent. See docs/design/cost.md ("Judge").
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from agents.backends import backend_entry, backend_hook, make_backend
from sweep import rescore
from sweep.config import BackendConfig, SweepConfig
from sweep.plan import plan
from sweep.results.scores import DEFAULT
from sweep.results.store import ResultStore
from sweep.spec import EpisodeSpec, episode_id

log = logging.getLogger(__name__)
CONCURRENCY = 64  # judge calls in flight at least (more when the judge's engines hold more)


@dataclass(frozen=True)
class JudgePass:
    """The pass over ``store``'s deferred steps, with the judge of ``cfg``; ``replicas``: what
    the judge phase deploys (model -> replicas; 0: not served); ``jobs``: its pending steps,
    when the caller has just listed them (a launch with no agent left to run)."""

    store: ResultStore
    cfg: SweepConfig
    replicas: Mapping[str, int] = field(default_factory=dict)
    flush_rows: int = 500
    jobs: tuple[rescore.Job, ...] | None = None

    def pending(self) -> list[rescore.Job]:
        """The deferred steps the ``default`` set has not scored yet."""
        if self.jobs is not None:
            return list(self.jobs)
        done = rescore._existing(self.store, DEFAULT, self._judge_id())
        jobs, _ = rescore._jobs(self.store, self.cfg, done, deferred_only=True)
        return jobs

    def run(self, backend: BackendConfig, recount: Callable[[], int]) -> rescore.Report:
        """Deploy the judge (``prepare_runners`` with the judge phase's replicas), judge every
        pending step, release it. Nothing is deployed when none is pending."""
        spec = self.cfg.judge
        report = rescore.Report(DEFAULT, spec.model.name)
        jobs = self.pending()
        if not jobs:
            return report
        log.info("judge pass: %d deferred steps on %s", len(jobs), spec.model.name)
        prepare = backend_hook(backend.name, "prepare_runners")
        setup = None
        if prepare is not None:
            specs = list(plan(self.cfg).specs)
            setup = prepare(specs, backend.options, 1, recount, self._only_judge(specs))
        try:
            client = make_backend(backend.name, backend.options, setup and setup.runtime)
            row = rescore._row_maker(
                DEFAULT, self._judge_id(), spec, served=not backend_entry(backend.name).synthetic
            )
            concurrency = max(CONCURRENCY, self._slots(backend))
            asyncio.run(
                rescore._run(
                    jobs, client, spec, row, self.store, report, concurrency, self.flush_rows
                )
            )
        finally:
            if setup is not None and setup.serving is not None:
                setup.serving.shutdown()
        return report

    def _only_judge(self, specs: list[EpisodeSpec]) -> dict[str, int]:
        """The judge's replicas, and 0 (not served) for every other model the episodes call."""
        judge = self.cfg.judge.model
        calls = {s.model.name for s in specs} | {
            s.shock.model.name for s in specs if s.shock is not None and s.shock.model is not None
        }
        held = dict.fromkeys(calls - {judge.name}, 0)
        return {**held, judge.name: self.replicas.get(judge.name) or judge.replicas}

    def _judge_id(self) -> str:
        return episode_id(self.cfg.judge.identity())

    def _slots(self, backend: BackendConfig) -> int:
        """Requests the judge's engines can hold at the phase's replicas (runner sizing)."""
        count = backend_hook(backend.name, "engine_slots")
        if count is None:
            return 0
        m = self.cfg.judge.model
        n = self.replicas.get(m.name) or m.replicas
        return int(count([dataclasses.replace(m, replicas=n)], backend.options))
