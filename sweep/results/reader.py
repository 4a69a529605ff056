"""Lazy loaders: a results directory -> Polars LazyFrames, one attempt per episode.

``runs`` keeps, per ``episode_id``, the rows of its latest committed (attempt, batch);
``agents`` and ``transcripts`` keep only rows of that same commit, so rows of a commit that never
finished (a crash between part files) are invisible and nothing counts twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import polars as pl

from sweep.errors import UserError
from sweep.results.scores import latest_scores, with_deferred_scores, with_score_set
from sweep.results.store import PLAN, ResultStore
from sweep.results.verify import incomplete, warn_incomplete


@dataclass(frozen=True)
class Results:
    runs: pl.LazyFrame
    agents: pl.LazyFrame
    transcripts: pl.LazyFrame
    scores: pl.LazyFrame | None = None  # score sets of `orgsweep rescore`, latest per step

    def tables(self) -> dict[str, pl.LazyFrame]:
        out = {"runs": self.runs, "agents": self.agents, "transcripts": self.transcripts}
        if self.scores is not None:
            out["scores"] = self.scores
        return out


def load(
    results_dir: str,
    *,
    include_failed: bool = False,
    score_set: str | None = None,
    plan_only: bool | None = None,
) -> Results:
    """The committed results of ``results_dir`` as LazyFrames ``runs``, ``agents``,
    ``transcripts``. Failed episodes are left out unless ``include_failed``. ``score_set``
    (a name from ``orgsweep rescore``) puts that set's judge scores in ``runs`` in place of the
    inline ``default`` ones; by default, steps whose judge was deferred get the scores of the
    sweep's own judge pass (``sweep.results.scores``). ``plan_only`` (default: when
    ``plan.parquet`` is present) keeps only episodes of the sweep's current plan
    (``planned_ids``), leaving out those a result-affecting config change made stale;
    ``False`` keeps every committed one."""
    store = ResultStore(results_dir)
    warn_incomplete(incomplete(store), store.uri)  # until the next launch re-runs them
    runs = store.scan("runs")
    if plan_only is not False:
        ids = planned_ids(store, required=plan_only is True)
        if ids is not None:
            # A semi-join, not is_in(ids): Polars would push a 22,400-item is_in into the scan
            # of every part file (1.8 s against 0.3 s on the paper results).
            plan_ids = pl.LazyFrame({"episode_id": ids}, schema={"episode_id": pl.String})
            runs = runs.join(plan_ids, on="episode_id", how="semi")
    key = ["episode_id", "attempt", "batch"]
    latest = (
        runs.select(key)
        .unique()
        .sort("attempt", "batch")
        .group_by("episode_id")
        .agg(pl.col("attempt").last(), pl.col("batch").last())
    )
    # No row is in two parts the store lists, even after a crash in `orgsweep compact`
    # (sweep.results.store): the semi-joins on the latest commit are all it takes.
    runs = runs.join(latest, on=key, how="semi")
    if not include_failed:
        runs = runs.filter(pl.col("status") == "ok")
    keys = runs.select(key).unique()
    agents = store.scan("agents").join(keys, on=key, how="semi")
    transcripts = store.scan("transcripts").join(keys, on=key, how="semi")
    scores = store.scan("scores")
    if score_set is not None and score_set != "default":
        runs = with_score_set(runs, scores, score_set)
    else:  # steps judged by the sweep's own deferred pass (cost.judge=deferred)
        runs = with_deferred_scores(runs, scores)
    return Results(runs, agents, transcripts, latest_scores(scores))


def planned_ids(store: ResultStore, *, required: bool = False) -> list[str] | None:
    """Episode ids of the stored plan: ``plan.parquet``, which ``launch`` writes (the whole plan,
    without ``sweep.limit``); None when there is none (a UserError if ``required``)."""
    ids = store.read_plan()
    if ids is None and required:
        raise UserError(
            f"{store.uri} has no {PLAN}: plan_only needs the plan `orgsweep launch` writes"
        )
    return ids


def ids_digest(ids: list[str]) -> str:
    """``sweep.plan.Plan.digest`` of a set of episode ids."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]
