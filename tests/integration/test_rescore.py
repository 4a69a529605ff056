"""``orgsweep rescore``: a tiny sweep, then another judge into a new score set."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from analysis import load
from sweep.cli import main
from sweep.results.schema import SCORE_COLUMNS, SCORES
from sweep.results.scores import score_sets
from sweep.results.store import ResultStore

pytestmark = pytest.mark.integration

DIMS = ["accuracy", "completeness", "coherence", "actionability", "mission_score"]
# glm5 without its synthetic judge profile (agents/backends/sim_judge.py): the reference sim judge
GLM5 = ("judge.model=glm5", "~models.glm5.sim.judge")


@pytest.fixture(scope="module")
def launched(ensure_ray: Callable[[], None], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny sweep per module: 4 two-step episodes (8 run steps), so steps map to their own
    tasks."""
    ensure_ray()
    res = tmp_path_factory.mktemp("rescore") / "r"
    args = ["launch", f"results_dir={res}", "sweep.limit=4", "sweep.blocks.0.steps=2"]
    assert main([*args, "--no-progress"]) == 0
    return res


@pytest.fixture
def sweep_dir(launched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A private copy of the launched sweep (tests add score sets to it)."""
    capsys.readouterr()
    shutil.copytree(launched, tmp_path / "r")
    return str(tmp_path / "r")


def _rescore(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = main(["rescore", *args])
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


def test_rescore_into_a_new_score_set(sweep_dir: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = _rescore(capsys, sweep_dir, *GLM5)
    assert rc == 0, out
    assert "score set glm5-r2 (judge glm5): 8 scored (0 judge_failed), 0 already scored" in out
    assert "agreement glm5-r2 vs default over 8 run steps" in out  # the headline
    store = ResultStore(sweep_dir)
    table = store.read_table("scores")
    assert table.schema.equals(SCORES) and table.num_rows == 8
    scores = pl.from_arrow(table)
    assert set(scores["score_set"]) == {"glm5-r2"} and set(scores["judge_model"]) == {"glm5"}
    assert scores["judge_calls"].min() == 1 and scores["judge_prompt_tokens"].min() > 100
    assert (
        scores["quality"] == (scores["accuracy"] + scores["completeness"] + scores["coherence"]
                              + scores["actionability"]).cast(pl.Float64) / 16
    ).all()  # fmt: skip
    assert (scores["mission_relevance"] == scores["mission_score"].cast(pl.Float64) / 4).all()

    default = load(sweep_dir).runs.sort("episode_id", "step").collect()
    rescored = load(sweep_dir, score_set="glm5-r2").runs.sort("episode_id", "step").collect()
    assert rescored.columns == default.columns and rescored.height == default.height == 8
    assert set(default["judge_model"]) == {"qwen3_235b"} and set(default["score_set"]) == {
        "default"
    }
    assert set(rescored["judge_model"]) == {"glm5"} and set(rescored["score_set"]) == {"glm5-r2"}
    # The sim judge scores the text alone, so a correct rebuild of every step's task (from the
    # stored plan) reproduces the inline scores exactly; a wrong task would change completeness.
    assert rescored.select(DIMS).equals(default.select(DIMS))
    keep = [c for c in default.columns if c not in (*SCORE_COLUMNS, "score_set")]
    assert rescored.select(keep).equals(default.select(keep))

    # The sets are a table of `orgsweep query`, joinable to runs.
    sql = (
        "SELECT s.score_set, count(*) AS n, avg(s.quality - r.quality) AS diff FROM scores s "
        "JOIN runs r USING (episode_id, step) GROUP BY 1"
    )
    assert main(["query", sweep_dir, sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"score_set": "glm5-r2", "n": 8, "diff": 0.0}]

    # Resumable: a second run scores nothing new and writes no part file.
    parts = store.parts("scores")
    rc, out = _rescore(capsys, sweep_dir, *GLM5)
    assert rc == 0 and "0 scored (0 judge_failed), 8 already scored" in out
    assert store.parts("scores") == parts

    # An interrupted rescore (only 3 rows committed) finishes where it stopped.
    for p in parts:
        Path(p).unlink()
    store.write_part("scores", table.slice(0, 3).to_pylist())
    rc, out = _rescore(capsys, sweep_dir, *GLM5)
    assert rc == 0 and "5 scored (0 judge_failed), 3 already scored" in out
    assert (
        pl.from_arrow(store.read_table("scores"))
        .select(DIMS)
        .sort(DIMS)
        .equals(scores.select(DIMS).sort(DIMS))
    )


def test_score_sets_are_versioned_and_named(
    sweep_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _rescore(capsys, sweep_dir, "judge.model=glm5", "judge.rubric_version=r1")[0] == 0
    assert _rescore(capsys, sweep_dir, "judge=gpt54", "--name", "closed-judge")[0] == 0
    store = ResultStore(sweep_dir)
    sets = score_sets(pl.from_arrow(store.read_table("scores")).lazy())
    assert sets["score_set"].to_list() == ["closed-judge", "glm5-r1"]
    assert sets["judge_model"].to_list() == ["gpt54", "glm5"] and sets["rows"].to_list() == [8, 8]
    rc, out = _rescore(capsys, sweep_dir, "judge.model=deepseek_v32", "--name", "glm5-r1")
    assert rc == 2 and (
        "score set 'glm5-r1' already holds scores by another judge (glm5 with other settings); "
        "choose a new --name" in out
    )
    with pytest.raises(Exception, match="no score set 'nope' in these results; available: "
                       "default, closed-judge, glm5-r1"):  # fmt: skip
        load(sweep_dir, score_set="nope")
    rc, out = _rescore(capsys, str(Path(sweep_dir).parent / "missing"), "judge.model=glm5")
    assert rc == 2 and "missing is not an orgsweep results directory (it does not exist)" in out
    # Parquet parts are plain files any reader opens.
    assert sum(pq.read_table(p).num_rows for p in store.parts("scores")) == 16
