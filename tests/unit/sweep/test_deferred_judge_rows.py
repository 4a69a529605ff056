"""A step run without its judge (cost.judge=deferred): its rows, and how readers put the judge
pass's scores (the ``scores`` set ``default``) in their place."""

from __future__ import annotations

import asyncio

import polars as pl
import pyarrow as pa

from agents.backends.sim import SimBackend
from agents.catalogue import ModelSpec, SimProfile
from agents.judge import JudgeSpec
from agents.tasks import generate_tasks
from sweep.episode import run_episode
from sweep.results.schema import RUNS, SCORE_COLUMNS, SCORE_KEY, SCORES
from sweep.results.scores import awaiting_judge, with_deferred_scores
from sweep.spec import EpisodeSpec

SPEC = EpisodeSpec(
    "broadcast", (), ModelSpec("sim_a", "sim/a", sim=SimProfile(capability=0.75)), 4, "free",
    "L2", tuple(generate_tasks(3, "L2", 3, namespace="deferred")), 0, "A mission.",
    JudgeSpec(ModelSpec("sim_judge", "sim/judge")),
)  # fmt: skip


def _runs(judge_now: bool) -> pl.DataFrame:
    rows = asyncio.run(run_episode(SPEC, SimBackend(), 1, judge_now))
    extra = {"backend": "sim", "batch": "b", "status": "ok"}
    t = pa.Table.from_pylist([{**r, **extra} for r in rows.runs], schema=RUNS)
    out = pl.from_arrow(t)
    assert isinstance(out, pl.DataFrame)
    return out


def test_a_deferred_step_has_no_scores_and_the_same_agent_columns() -> None:
    judged, deferred = _runs(True), _runs(False)
    assert deferred["judge_deferred"].to_list() == [True] * 3
    assert judged["judge_deferred"].to_list() == [False] * 3
    assert deferred["quality"].null_count() == 3 and deferred["judge_failed"].null_count() == 3
    assert deferred["judge_calls"].to_list() == [0] * 3
    same = [c for c in RUNS.names if c not in (*SCORE_COLUMNS, "wall_s", "finished_at")]
    same = [c for c in same if not c.startswith("judge_") and c not in ("gpu_s", "cost_usd")]
    assert deferred.select(same).equals(judged.select(same))


def test_readers_swap_the_pass_scores_into_deferred_rows_only() -> None:
    judged, deferred = _runs(True), _runs(False)
    # The pass scored steps 0 and 1 (as the inline judge did); step 2 still awaits it.
    scored = judged.filter(pl.col("step") < 2).select(*SCORE_KEY, *SCORE_COLUMNS)
    scores = scored.with_columns(
        pl.lit("default").alias("score_set"),
        pl.lit(None, pl.Datetime("ms", "UTC")).alias("scored_at"),
    )
    scores_t = pl.from_arrow(pa.Table.from_pylist(scores.to_dicts(), schema=SCORES))
    assert isinstance(scores_t, pl.DataFrame)
    out = with_deferred_scores(deferred.lazy(), scores_t.lazy()).collect()
    assert out.columns == deferred.columns
    cols = ["quality", "accuracy", "judge_failed", "judge_calls"]
    assert (
        out.filter(pl.col("step") < 2)
        .select(cols)
        .equals(judged.filter(pl.col("step") < 2).select(cols))
    )
    assert out.filter(pl.col("step") == 2)["quality"].null_count() == 1
    assert awaiting_judge(out.lazy()) == 1
    # an inline-judged row keeps its own scores, whatever the set holds
    inline = with_deferred_scores(judged.lazy(), scores_t.lazy()).collect()
    assert inline.select(cols).equals(judged.select(cols)) and awaiting_judge(inline.lazy()) == 0
