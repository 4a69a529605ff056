"""What the viewer's pages show, read through ``analysis.load`` (as ``orgsweep query`` and
``orgsweep show`` read), lazily: the runs table is filtered, sorted and sliced in the lazy plan
(Polars ``slice``), so a page of 50 rows never collects the whole table.

Functions here return plain data (DataFrames, dicts, dataclasses); the server renders them. A
bad request (unknown sort column, filter value of the wrong type) is a ``UserError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from sweep.errors import UserError
from sweep.results.reader import Results, load
from sweep.results.schema import DELIVERABLE

FILTERS = ("protocol", "n_agents", "model", "level", "roles", "status")
COLUMNS = (
    "episode_id",
    "step",
    "block",
    "protocol",
    "model",
    "n_agents",
    "roles",
    "level",
    "status",
    "error_kind",
    "quality",
    "mission_relevance",
    "n_participating",
    "n_active",
    "rounds",
    "llm_calls",
    "tokens",
    "backend",
    "finished_at",
)
PAGE = 50
MAX_PAGE = 500
SCORES = ("accuracy", "completeness", "coherence", "actionability", "mission_score", "quality")


def results(results_dir: str, score_set: str | None = None) -> Results:
    """Every committed episode, failed ones included, with ``score_set``'s judge scores."""
    return load(
        results_dir,
        include_failed=True,
        plan_only=False,
        score_set=None if score_set in (None, "", "default") else score_set,
    )


def score_sets(res: Results) -> list[str]:
    names = ["default"]
    if res.scores is not None:
        names += res.scores.select("score_set").unique().collect()["score_set"].sort().to_list()
    return list(dict.fromkeys(names))


def filter_options(res: Results) -> dict[str, list[Any]]:
    """The values each filter can take (distinct values in ``runs``)."""
    cols = res.runs.select([pl.col(c).unique().sort().implode() for c in FILTERS]).collect()
    return {c: [v for v in cols[c][0].to_list() if v is not None] for c in FILTERS}


@dataclass(frozen=True)
class RunsQuery:
    """A page of the runs table: filters (column -> value as text), sort column and order."""

    filters: Mapping[str, str] = field(default_factory=dict)
    sort: str = "finished_at"
    descending: bool = True
    offset: int = 0
    limit: int = PAGE


def runs_page(res: Results, q: RunsQuery) -> tuple[pl.DataFrame, int]:
    """The rows of page ``q`` and the number of rows matching its filters."""
    if q.sort not in COLUMNS:
        raise UserError(f"sort={q.sort!r}: choose one of {', '.join(COLUMNS)}")
    if not 0 < q.limit <= MAX_PAGE or q.offset < 0:
        raise UserError(f"limit must be 1-{MAX_PAGE} and offset >= 0")
    lf = res.runs.with_columns(
        tokens=pl.col("prompt_tokens").fill_null(0) + pl.col("completion_tokens").fill_null(0)
    )
    for col, raw in q.filters.items():
        if col not in FILTERS:
            raise UserError(f"filter {col!r}: choose one of {', '.join(FILTERS)}")
        if raw == "":
            continue
        lf = lf.filter(pl.col(col) == _typed(col, raw))
    total = int(lf.select(pl.len()).collect().item())
    page = (
        lf.select(COLUMNS)
        .sort(q.sort, "episode_id", "step", descending=[q.descending, False, False])
        .slice(q.offset, q.limit)
        .collect()
    )
    return page, total


def _typed(col: str, raw: str) -> Any:
    if col != "n_agents":
        return raw
    try:
        return int(raw)
    except ValueError:
        raise UserError(f"n_agents={raw!r}: a whole number, e.g. 16") from None


def overview(res: Results) -> dict[str, Any]:
    """Committed episodes by status, failures by kind, and per-cell quality."""
    runs = res.runs
    status = (
        runs.group_by("status")
        .agg(pl.col("episode_id").n_unique().alias("episodes"), pl.len().alias("run_steps"))
        .sort("status")
        .collect()
    )
    failures = (
        runs.filter(pl.col("status") != "ok")
        .group_by("error_kind")
        .agg(pl.col("episode_id").n_unique().alias("episodes"), pl.col("error").first())
        .sort("episodes", descending=True)
        .collect()
    )
    cells = (
        runs.filter(pl.col("status") == "ok")
        .group_by("block", "protocol", "model", "n_agents", "roles", "level")
        .agg(
            pl.col("episode_id").n_unique().alias("episodes"),
            pl.col("quality").mean().alias("Q"),
            (pl.col("n_participating") / pl.col("n_active")).mean().alias("participation"),
        )
        .sort("block", "protocol", "model", "n_agents", "roles", "level")
        .collect()
    )
    sim = bool(runs.select((pl.col("backend") == "sim").any()).collect().item() or False)
    return {"status": status, "failures": failures, "cells": cells, "sim": sim}


@dataclass(frozen=True)
class Turn:
    agent: int
    round: int
    kind: str
    role: str
    participate: bool
    reason: str  # why not participating ("" when participating)
    builds_on: list[tuple[int, str]]  # (agent, anchor of its latest turn up to this round)
    text: str
    rationale: str
    error: str
    prompt: str

    @property
    def anchor(self) -> str:
        return f"r{self.round}-a{self.agent}"


@dataclass(frozen=True)
class Step:
    run: dict[str, Any]
    rounds: list[tuple[int, list[Turn]]]
    deliverable: str
    judge_reason: str
    other_scores: list[dict[str, Any]]


def episode(res: Results, episode_id: str) -> tuple[str, list[Step]]:
    """The episode ``episode_id`` (or a unique prefix): per step its run row, its rounds of
    turns, the deliverable and the judge's reason."""
    runs = res.runs.filter(pl.col("episode_id").str.starts_with(episode_id)).collect()
    ids = sorted(set(runs["episode_id"]))
    if len(ids) != 1:
        raise UserError(f"episode {episode_id!r} {'is ambiguous' if ids else 'was not found'}")
    eid = ids[0]
    runs = runs.filter(pl.col("episode_id") == eid).sort("step")
    key = ["episode_id", "attempt", "batch", "step"]
    keys = runs.select(key).lazy()
    turns = res.transcripts.join(keys, on=key, how="semi").collect()
    agents = res.agents.join(keys, on=key, how="semi").collect()
    scores = (
        res.scores.join(keys, on=key, how="semi").collect()
        if res.scores is not None
        else pl.DataFrame()
    )
    steps = []
    for run in runs.iter_rows(named=True):
        s = run["step"]
        t = turns.filter(pl.col("step") == s)
        other = scores.filter(pl.col("step") == s).to_dicts() if not scores.is_empty() else []
        dl = t.filter(pl.col("agent") == DELIVERABLE).to_dicts()
        reason = (dl[0]["rationale"] or dl[0]["error"]) if dl else ""
        # With a score set chosen, the verdict shown beside its scores is that set's.
        chosen = [o for o in other if o["score_set"] == run.get("score_set")]
        if chosen:
            reason = chosen[0]["justification"] or chosen[0]["error"] or ""
        steps.append(
            Step(
                run,
                _rounds(agents.filter(pl.col("step") == s), t),
                dl[0]["text"] if dl else "",
                reason,
                other,
            )
        )
    return eid, steps


def _rounds(agents: pl.DataFrame, turns: pl.DataFrame) -> list[tuple[int, list[Turn]]]:
    """Turns grouped by round; agents that made no call in a round (excluded by the
    coordinator) come from their final ``agents`` row, as in ``orgsweep show``."""
    final = {(r["agent"], r["round"]): r for r in agents.iter_rows(named=True)}
    rows = [r for r in turns.iter_rows(named=True) if r["agent"] != DELIVERABLE]
    seen = {(r["agent"], r["round"]) for r in rows}
    blank = {"kind": "turn", "text": "", "rationale": "", "error": "", "prompt": ""}
    rows += [
        {**blank, "agent": a, "round": rnd, "role": r["role"], "participate": False}
        for (a, rnd), r in final.items()
        if (a, rnd) not in seen
    ]
    rows.sort(key=lambda r: (r["round"], r["agent"]))
    latest: dict[int, int] = {}  # agent -> latest round with a turn so far
    out: dict[int, list[Turn]] = {}
    for r in rows:
        latest.setdefault(r["agent"], r["round"])
        latest[r["agent"]] = r["round"]
        f = final.get((r["agent"], r["round"]))
        refs = list(f["builds_on"]) if f is not None and f["builds_on"] is not None else []
        reason = ""
        if not r["participate"]:
            reason = (f or {}).get("abstain_reason") or (
                "invalid_output" if r["error"] else "voluntary"
            )
        out.setdefault(r["round"], []).append(
            Turn(
                agent=r["agent"],
                round=r["round"],
                kind=r["kind"] or "turn",
                role=r["role"] or "",
                participate=bool(r["participate"]),
                reason=reason,
                builds_on=[(a, f"r{latest.get(a, r['round'])}-a{a}") for a in refs],
                text=r["text"] or "",
                rationale=r["rationale"] or "",
                error=r["error"] or "",
                prompt=r["prompt"] or "",
            )
        )
    return sorted(out.items())
