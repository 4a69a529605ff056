"""Every reader goes through the store: a damaged ``runs`` part warns in ``analysis.load``,
``orgsweep query`` and ``orgsweep report`` alike (on a local disk too), and the readable
parts are still read."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_report import run_in_process  # tests/unit/analysis: the in-process sweep

from analysis import load
from analysis.query import query
from analysis.report import report
from sweep.results.store import StoreWarning

DAMAGED = "part-0-damaged.parquet"


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> str:
    res = str(tmp_path_factory.mktemp("damaged") / "r")
    run_in_process(res, ["sweep.limit=4"])
    (Path(res) / "runs" / DAMAGED).write_bytes(b"PAR1 not a parquet file")
    return res


def test_load_warns_and_keeps_the_readable_parts(damaged: str) -> None:
    with pytest.warns(StoreWarning, match=DAMAGED):
        runs = load(damaged).runs.collect()
    assert runs["episode_id"].n_unique() == 4


def test_query_warns(damaged: str) -> None:
    with pytest.warns(StoreWarning, match=DAMAGED):
        df = query(damaged, "SELECT count(DISTINCT episode_id) AS n FROM runs")
    assert df["n"][0] == 4


def test_report_warns(damaged: str, tmp_path: Path) -> None:
    with pytest.warns(StoreWarning, match=DAMAGED):
        r = report(damaged, out_dir=str(tmp_path / "report"))
    assert r.run_steps > 0
