"""Failed episodes by kind, with an example each and the command that lists them."""

from __future__ import annotations

import polars as pl

from sweep.failures import FailureKind, failure_lines, kinds_of, list_command


def test_kinds_commonest_first_with_one_example_each() -> None:
    failed = pl.LazyFrame(
        {
            "episode_id": ["e3", "e1", "e2", "e4"],
            "error_kind": ["timeout", "connection", "connection", None],
            "error": ["t/o", "refused 1", "refused 2", "?"],
        }
    )
    assert kinds_of(failed) == [
        FailureKind("connection", 2, "e1", "refused 1"),
        FailureKind("timeout", 1, "e3", "t/o"),
        FailureKind("unknown", 1, "e4", "?"),
    ]
    assert kinds_of(failed, ids={"e3"}) == [FailureKind("timeout", 1, "e3", "t/o")]


def test_lines_fit_the_width_and_end_with_the_commands() -> None:
    long = "connection to http://127.0.0.1:9/v1 failed: Connection error. " * 3
    lines = failure_lines([FailureKind("connection", 8, "a35eee034e342e42", long)], "out/r", 80)
    assert lines[:2] == ["failed episodes: 8, by kind:", "  connection: 8 (e.g. a35eee034e34)"]
    assert lines[2].startswith("    connection to http://127.0.0.1:9/v1 failed")
    assert all(len(x) <= 80 for x in lines[:-2])
    assert lines[-2:] == [
        "list them: orgsweep query out/r 'SELECT episode_id, error_kind, error FROM failed'",
        "show one:  orgsweep show out/r EPISODE_ID",
    ]
    assert failure_lines([], "out/r") == []
    assert list_command("a b") == (
        "orgsweep query 'a b' 'SELECT episode_id, error_kind, error FROM failed'"
    )
