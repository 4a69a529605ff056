"""``orgsweep rescore RESULTS_DIR [overrides] [--name NAME]``: another judge for stored results.

Re-judges the stored deliverables (``transcripts`` rows with kind ``deliverable``, agent -2) of
every committed ok run step, without re-running any agent, into a new score set in the
``scores`` table (``sweep.results.schema.SCORES``); ``analysis.load(dir, score_set=NAME)`` reads it.

- **Which judge**: the sweep's stored overrides (``sweep.yaml``) plus this command's overrides,
  composed as usual (``judge=gpt54``, ``judge.model=glm5``, ``judge.rubric_version=r1``,
  ``backend=...``). The set is named ``<judge model>-<rubric version>`` unless ``--name``; a
  set belongs to one judge identity (model, revision, rubric, budget), and reusing a name for
  another judge is refused.
- **Which task**: a deliverable's task is not stored, so the plan is rebuilt from the stored,
  resolved config (``sweep.yaml`` ``config``; generated tasks are deterministic, a task file is
  re-read) and ``episode_id -> spec.tasks[step]`` looked up; the runs row's ``task_hash`` must
  match. Steps whose episode is not in the rebuilt plan (the code or task file changed since)
  are reported and skipped. The mission is the one the step ran with (after a
  ``mission_shift`` shock), the judge seed the one the sweep used.
- **Resumable and atomic**: rows go to Parquet part files written under a temporary name and
  renamed, every ``flush_rows`` scores and at the end (Ctrl-C included); steps the set already
  scored are skipped, so running the command again finishes an interrupted rescore.
- **Where it runs**: in this process, ``concurrency`` judge calls in flight on the configured
  backend (the ``sim`` judge or any OpenAI-compatible endpoint); no Ray. Infrastructure errors
  are retried; a step that still fails is left unscored for the next run.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import polars as pl

from agents.backends import backend_entry, make_backend
from agents.backends.chat import Backend, InfraError
from agents.judge import JudgeSpec, Verdict, judge
from agents.prompts import PROMPT_VERSION
from agents.runtime import derive_seed
from agents.served import joined
from agents.tasks import Task
from sweep.config import SweepConfig
from sweep.cost import attributed_cost
from sweep.errors import UserError
from sweep.plan import plan
from sweep.results.schema import DELIVERABLE, SCORE_KEY
from sweep.results.store import ResultStore
from sweep.spec import EpisodeSpec, episode_id
from sweep.stored import stored_config

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Job:
    """One deliverable to judge."""

    key: tuple[Any, ...]  # SCORE_KEY values of its runs row
    task: Task
    mission: str
    deliverable: str
    seed: int
    prompt_version: str = PROMPT_VERSION  # the sweep's prompt layout, as its inline judge had it


@dataclass
class Report:
    """What one rescore did: deliverables judged, already scored, without a matching run,
    refused by the judge or lost to infrastructure errors."""

    score_set: str
    judge: str
    scored: int = 0
    already: int = 0
    unmatched: int = 0
    judge_failed: int = 0
    infra_failed: int = 0
    seconds: float = 0.0


def rescore(
    results_dir: str,
    overrides: Sequence[str] = (),
    *,
    name: str | None = None,
    concurrency: int = 32,
    flush_rows: int = 500,
    on_progress: Callable[[Report], None] = lambda r: None,
    prepare: Callable[[list[Job]], list[Job]] | None = None,
) -> Report:
    """``prepare`` (``analysis.probe``) may select and change the jobs before they are judged."""
    t0 = time.perf_counter()
    store = ResultStore(results_dir)
    stored = stored_config(results_dir)
    original = stored.as_run()
    new = stored.compose(overrides)
    spec = new.judge
    set_name = name or f"{spec.model.name}-{spec.rubric_version}"
    if set_name == "default" or not _NAME.fullmatch(set_name):
        raise UserError(
            f"score set name {set_name!r}: use letters, digits, '.', '_' or '-' (not 'default')"
        )
    judge_id = episode_id(spec.identity())
    done = _existing(store, set_name, judge_id)
    jobs, unmatched = _jobs(store, original, done)
    jobs = prepare(jobs) if prepare is not None else jobs
    report = Report(set_name, spec.model.name, already=len(done), unmatched=unmatched)
    if jobs:
        backend = make_backend(new.backend.name, new.backend.options)
        row = _row_maker(
            set_name, judge_id, spec, served=not backend_entry(new.backend.name).synthetic
        )
        asyncio.run(
            _run(jobs, backend, spec, row, store, report, concurrency, flush_rows, on_progress)
        )
    report.seconds = time.perf_counter() - t0
    return report


def _existing(store: ResultStore, set_name: str, judge_id: str) -> set[tuple[Any, ...]]:
    """Keys the set already scored; refuses a set made by another judge."""
    t = store.read_table("scores", [*SCORE_KEY, "score_set", "judge_id", "judge_model"])
    df = cast(pl.DataFrame, pl.from_arrow(t)).filter(pl.col("score_set") == set_name)
    other = df.filter(pl.col("judge_id") != judge_id)
    if other.height:
        raise UserError(
            f"score set {set_name!r} already holds scores by another judge "
            f"({other['judge_model'][0]} with other settings); choose a new --name"
        )
    return {tuple(r) for r in df.select(SCORE_KEY).iter_rows()}


def _jobs(
    store: ResultStore, cfg: SweepConfig, done: set[tuple[Any, ...]], deferred_only: bool = False
) -> tuple[list[Job], int]:
    """A job per committed ok step's deliverable not in ``done`` (``deferred_only``: only the
    steps whose judge was deferred, ``runs.judge_deferred``)."""
    from sweep.results.reader import load

    res = load(store.uri, plan_only=False)
    key = list(SCORE_KEY)
    runs = res.runs.filter(pl.col("judge_deferred").fill_null(False)) if deferred_only else res.runs
    deliverables = (
        res.transcripts.filter((pl.col("kind") == "deliverable") & (pl.col("agent") == DELIVERABLE))
        .select(*key, "text")
        .join(runs.select(*key, "task_hash"), on=key, how="inner")
        .sort(key)
        .collect()
    )
    specs = {s.episode_id: s for s in plan(cfg).specs}
    jobs: list[Job] = []
    unmatched = 0
    for row in deliverables.iter_rows(named=True):
        k = tuple(row[c] for c in key)
        if k in done:
            continue
        spec = specs.get(row["episode_id"])
        step = row["step"]
        if spec is None or step >= spec.steps or spec.tasks[step].content_hash != row["task_hash"]:
            unmatched += 1
            continue
        seed = derive_seed(spec.seed, step, "judge")
        task, text = spec.tasks[step], row["text"] or ""
        jobs.append(Job(k, task, _mission(spec, step), text, seed, spec.prompt_version))
    return jobs, unmatched


def _mission(spec: EpisodeSpec, step: int) -> str:
    s = spec.shock
    if s is not None and s.kind == "mission_shift" and step >= s.at_step:
        return s.mission
    return spec.mission


def _row_maker(
    set_name: str, judge_id: str, spec: JudgeSpec, served: bool
) -> Callable[[Job, Verdict], dict[str, Any]]:
    def row(job: Job, v: Verdict) -> dict[str, Any]:
        s = v.scores or {}
        gpu_s, usd = attributed_cost(spec.model, v.prompt_tokens, v.completion_tokens, served)
        return {
            **dict(zip(SCORE_KEY, job.key, strict=True)),
            "score_set": set_name,
            "judge_model": spec.model.name,
            "judge_model_id": spec.model.hf_id,
            "rubric_version": spec.rubric_version,
            "judge_id": judge_id,
            "accuracy": s.get("accuracy"),
            "completeness": s.get("completeness"),
            "coherence": s.get("coherence"),
            "actionability": s.get("actionability"),
            "mission_score": s.get("mission_relevance"),
            "quality": v.quality,
            "mission_relevance": v.mission,
            "judge_failed": v.scores is None,
            "judge_calls": v.calls,
            "judge_prompt_tokens": v.prompt_tokens,
            "judge_completion_tokens": v.completion_tokens,
            "judge_gpu_s": gpu_s,
            "judge_cost_usd": usd,
            "justification": v.justification,
            "error": v.error[:500],
            "scored_at": datetime.now(UTC),
            "judge_served_model": joined(v.served.models),
            "judge_tokens_estimated": v.served.estimated,
        }

    return row


async def _run(
    jobs: list[Job],
    backend: Backend,
    spec: JudgeSpec,
    row: Callable[[Job, Verdict], dict[str, Any]],
    store: ResultStore,
    report: Report,
    concurrency: int,
    flush_rows: int,
    on_progress: Callable[[Report], None] = lambda r: None,
) -> None:
    """Judge ``jobs``, ``concurrency`` calls in flight, committing score rows every
    ``flush_rows`` and at the end (an interruption included); closes ``backend``."""
    queue = iter(jobs)
    buffer: list[dict[str, Any]] = []

    async def worker() -> None:
        for job in queue:  # workers share one iterator: at most `concurrency` calls in flight
            verdict = await _judge_with_retries(backend, spec, job)
            if verdict is None:
                report.infra_failed += 1
                continue
            buffer.append(row(job, verdict))
            report.scored += 1
            report.judge_failed += verdict.scores is None
            if len(buffer) >= flush_rows:
                store.write_part("scores", buffer[:])
                buffer.clear()
            on_progress(report)

    try:
        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    finally:  # Ctrl-C or an error: commit what was scored; the next run skips it
        if buffer:
            store.write_part("scores", buffer)
        await backend.aclose()


async def _judge_with_retries(
    backend: Backend, spec: JudgeSpec, job: Job, attempts: int = 3
) -> Verdict | None:
    for attempt in range(attempts):
        try:
            return await judge(
                backend, spec, job.task, job.mission, job.deliverable, job.seed, job.prompt_version
            )
        except InfraError as e:
            if attempt == attempts - 1:
                return None
            await asyncio.sleep(e.retry_after_s or 2.0**attempt)
    return None
