"""``orgsweep scores import``: human labels into a score set; every bad row named, nothing
stored changes on error. (A store written by hand: no Ray.)"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from analysis import load
from analysis.agreement import agree
from sweep.cli import main
from sweep.results.store import ResultStore

DIMS = ["accuracy", "completeness", "coherence", "actionability", "mission_relevance"]


@pytest.fixture
def store_dir(tmp_path: Path) -> str:
    """Six committed ok run steps (3 tasks x 2 episodes) with inline judge scores."""
    store = ResultStore(str(tmp_path / "r"))
    store.write_text("sweep.yaml", "sweep: hand\n")
    rows = []
    for e in range(6):
        s = [1 + (e + i) % 4 for i in range(5)]
        rows.append(
            {
                "episode_id": f"ep{e}",
                "attempt": 1,
                "batch": "b1",
                "step": 0,
                "task_id": f"t{e % 3}",
                "status": "ok",
                "backend": "sim",
                "score_set": "default",
                "judge_failed": False,
                **dict(
                    zip(
                        ["accuracy", "completeness", "coherence", "actionability"],
                        s[:4],
                        strict=True,
                    )
                ),
                "mission_score": s[4],
                "quality": sum(s[:4]) / 16,
                "mission_relevance": s[4] / 4,
            }
        )
    store.write_part("runs", rows)
    store.write_plan([f"ep{e}" for e in range(6)])
    return store.uri


def _write(tmp_path: Path, rows: list[dict[str, object]], name: str = "labels.csv") -> str:
    path = tmp_path / name
    df = pl.DataFrame(rows)
    df.write_csv(path) if name.endswith(".csv") else df.write_parquet(path)
    return str(path)


def _labels(n: int = 6, rater: str | None = None) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for e in range(n):
        row: dict[str, object] = {"episode_id": f"ep{e}", "step": 0}
        row.update({d: 1 + (e + i + (e == 2)) % 4 for i, d in enumerate(DIMS)})
        if rater:
            row["rater"] = rater
        out.append(row)
    return out


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = main(["scores", "import", *args])
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


def test_import_a_label_file_and_agree_with_the_judge(
    store_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out = _run(capsys, store_dir, _write(tmp_path, _labels()), "--name", "humans")
    assert rc == 0 and out == "score set humans: 6 rows imported (judge_model human)\n"
    runs = load(store_dir, score_set="humans").runs.sort("episode_id").collect()
    assert runs["judge_model"].to_list() == ["human"] * 6
    assert runs["mission_score"].to_list() == [1 + (e + 4 + (e == 2)) % 4 for e in range(6)]
    ag = agree(store_dir, "default", "humans", resamples=20)
    assert ag.n == 6 and ag.tasks == 3 and ag.get("exact agreement", "accuracy").value == 5 / 6


def test_one_score_set_per_rater_from_parquet(
    store_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _labels(rater="ann") + _labels(4, rater="bob")
    rc, out = _run(capsys, store_dir, _write(tmp_path, rows, "l.parquet"), "--name", "h")
    assert rc == 0 and out.splitlines() == [
        "score set h.ann: 6 rows imported (judge_model human)",
        "score set h.bob: 4 rows imported (judge_model human)",
    ]
    ag = agree(store_dir, "h.ann", "h.bob", resamples=20)
    assert (ag.n, ag.left_out_unscored) == (4, 2)


def test_bad_rows_are_named_and_nothing_is_stored(
    store_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _labels()
    rows[1]["episode_id"] = "nope"
    rows[2]["coherence"] = 7
    rows[3]["actionability"] = None
    rows[4]["step"] = 3
    rows.append(dict(rows[0]))
    before = ResultStore(store_dir).parts("scores")
    rc, out = _run(capsys, store_dir, _write(tmp_path, rows), "--name", "humans")
    assert rc == 2
    assert out == (
        f"orgsweep: error: {tmp_path}/labels.csv: 5 bad row(s), nothing imported:\n"
        "  row 2: episode_id 'nope' is not a committed ok run of these results\n"
        "  row 3: coherence='7' is outside 1..4 (a whole number 1..4)\n"
        "  row 4: actionability is missing (a whole number 1..4)\n"
        "  row 5: step '3' is not a step of episode ep4\n"
        "  row 7: repeats row 1 (same episode_id, step and rater)\n"
    )
    assert ResultStore(store_dir).parts("scores") == before == []


def test_a_missing_column_or_an_existing_set_is_refused(
    store_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_dim = [{k: v for k, v in r.items() if k != "coherence"} for r in _labels()]
    rc, out = _run(capsys, store_dir, _write(tmp_path, no_dim), "--name", "humans")
    assert rc == 2 and out == (
        f"orgsweep: error: {tmp_path}/labels.csv: missing column(s) coherence; required: "
        "episode_id, step, accuracy, completeness, coherence, actionability, mission_relevance "
        "(optional: rater)\n"
    )
    assert _run(capsys, store_dir, _write(tmp_path, _labels()), "--name", "humans")[0] == 0
    parts = ResultStore(store_dir).parts("scores")
    rc, out = _run(capsys, store_dir, _write(tmp_path, _labels()), "--name", "humans")
    assert rc == 2 and "score set(s) humans already exist in" in out
    assert ResultStore(store_dir).parts("scores") == parts
    rc, out = _run(capsys, store_dir, _write(tmp_path, _labels()), "--name", "default")
    assert rc == 2 and "--name 'default': use letters" in out
