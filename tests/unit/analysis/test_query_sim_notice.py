"""``orgsweep query`` says when its rows come from the synthetic sim backend."""

from __future__ import annotations

import polars as pl

from analysis.query import ALL_SIM, sim_notice
from sweep.results.reader import Results


def _results(backends: list[str]) -> Results:
    return Results(pl.LazyFrame({"backend": backends}), pl.LazyFrame(), pl.LazyFrame())


def test_rows_with_a_backend_column_are_counted() -> None:
    df = pl.DataFrame({"backend": ["sim", "vllm", "sim"]})
    assert sim_notice(_results(["sim"]), df) == (
        "note: 2 of these 3 rows come from the synthetic `sim` backend (backend == 'sim'): "
        "not evidence about LLMs."
    )
    assert sim_notice(_results(["sim"]), pl.DataFrame({"backend": ["vllm"]})) is None


def test_aggregates_get_the_notice_when_every_run_is_sim() -> None:
    df = pl.DataFrame({"n": [3]})
    assert sim_notice(_results(["sim", "sim"]), df) == ALL_SIM
    assert sim_notice(_results(["sim", "vllm"]), df) is None
