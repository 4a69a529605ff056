"""Human labels: ``orgsweep scores import`` / ``orgsweep scores export``.

``import_scores`` reads a CSV or Parquet file with columns ``episode_id``, ``step``, the rubric
dimensions (``accuracy``, ``completeness``, ``coherence``, ``actionability``,
``mission_relevance``, whole numbers 1..4) and optionally ``rater``, and writes it as a score
set (``judge_model`` = ``human``): one set ``NAME`` without raters or with one, else one set
``NAME.<rater>`` per rater, so ``orgsweep agree`` compares raters with each other and with a
judge. Every row is checked before anything is written; a bad file is refused with one line per
bad row naming the row (1 = the first data row) and the field, and nothing stored changes.

``export_sample`` writes a stratified sample (``sample_keys``) for raters, blinded:
the task and the deliverable with its agent numbers and role headers removed
(``agents.probes.anonymise``: numbers up to 63 would reveal N), rows in a seeded order, no
protocol, N or model; ``episode_id`` and ``step`` are opaque keys to import the labels back.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from agents.judge import DIMENSIONS, RUBRIC_VERSION
from agents.probes import anonymise
from agents.prompts import render_task
from sweep.errors import UserError
from sweep.rescore import _NAME, _jobs
from sweep.results.schema import SCORE_KEY
from sweep.results.store import ResultStore
from sweep.spec import episode_id
from sweep.stored import stored_config

REQUIRED = ("episode_id", "step", *DIMENSIONS)
MAX_LISTED = 20
_INT = re.compile(r"\s*-?\d+(\.0*)?\s*")


@dataclass(frozen=True)
class Imported:
    sets: dict[str, int]  # score set -> rows


def read_labels(path: str) -> pl.DataFrame:
    """The file as strings (so every value is checked the same way)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: no such file")
    try:
        if p.suffix == ".csv":
            df = pl.read_csv(p, infer_schema=False)
        elif p.suffix == ".parquet":
            df = pl.read_parquet(p)
            df = df.with_columns(pl.all().cast(pl.String))
        else:
            raise UserError(f"{path}: use a .csv or .parquet file")
    except (pl.exceptions.PolarsError, OSError) as e:
        raise UserError(f"{path}: cannot read it ({str(e).splitlines()[0]})") from None
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise UserError(
            f"{path}: missing column(s) {', '.join(missing)}; required: {', '.join(REQUIRED)} "
            "(optional: rater)"
        )
    return df


def _row_problems(
    i: int, row: dict[str, Any], known: dict[tuple[str, int], tuple[Any, ...]], eids: set[str]
) -> str | None:
    """The first problem of data row ``i`` (1-based), or None."""
    eid = (row["episode_id"] or "").strip()
    if eid not in eids:
        return f"row {i}: episode_id {eid!r} is not a committed ok run of these results"
    step = row["step"]
    if step is None or not _INT.fullmatch(step) or (eid, int(float(step))) not in known:
        return f"row {i}: step {step!r} is not a step of episode {eid}"
    for d in DIMENSIONS:
        v = row[d]
        if v is None or not v.strip():
            return f"row {i}: {d} is missing (a whole number 1..4)"
        if not _INT.fullmatch(v) or not 1 <= int(float(v)) <= 4:
            return f"row {i}: {d}={v.strip()!r} is outside 1..4 (a whole number 1..4)"
    return None


def import_scores(results_dir: str, path: str, name: str, rubric: str = RUBRIC_VERSION) -> Imported:
    from sweep.results.reader import load

    if name == "default" or not _NAME.fullmatch(name) or name.startswith("probe-"):
        raise UserError(
            f"--name {name!r}: use letters, digits, '.', '_' or '-' (not 'default', not probe-*)"
        )
    store = ResultStore(results_dir)
    stored_config(results_dir)  # refuses a directory that is not orgsweep's
    df = read_labels(path)
    runs = load(results_dir).runs.select(*SCORE_KEY).collect()
    known = {(r["episode_id"], r["step"]): tuple(r.values()) for r in runs.iter_rows(named=True)}
    eids = {k[0] for k in known}
    has_rater = "rater" in df.columns
    problems: list[str] = []
    rows: list[tuple[tuple[Any, ...], str, dict[str, int]]] = []
    seen: dict[tuple[str, int, str], int] = {}
    for i, row in enumerate(df.iter_rows(named=True), start=1):
        bad = _row_problems(i, row, known, eids)
        rater = (row.get("rater") or "").strip() if has_rater else ""
        if bad is None and has_rater and rater and not _NAME.fullmatch(rater):
            bad = f"row {i}: rater {rater!r}: use letters, digits, '.', '_' or '-'"
        if bad is None:
            k = (row["episode_id"].strip(), int(float(row["step"])), rater)
            if k in seen:
                bad = f"row {i}: repeats row {seen[k]} (same episode_id, step and rater)"
            seen[k] = i
        if bad:
            problems.append(bad)
        else:
            rows.append((known[k[0], k[1]], rater, {d: int(float(row[d])) for d in DIMENSIONS}))
    if problems:
        more = len(problems) - MAX_LISTED
        tail = [f"... and {more} more bad row(s)"] if more > 0 else []
        raise UserError(
            f"{path}: {len(problems)} bad row(s), nothing imported:\n  "
            + "\n  ".join([*problems[:MAX_LISTED], *tail])
        )
    if not rows:
        raise UserError(f"{path}: no data rows")
    raters = sorted({r for _, r, _ in rows})
    set_of = {r: name if len(raters) == 1 else f"{name}.{r or 'unnamed'}" for r in raters}
    _refuse_existing(store, sorted(set(set_of.values())))
    out = [_score_row(key, set_of[r], r, rubric, s) for key, r, s in rows]
    store.write_part("scores", out)  # one atomic part: all rows or none
    counts: dict[str, int] = {}
    for r in out:
        counts[r["score_set"]] = counts.get(r["score_set"], 0) + 1
    return Imported(counts)


def _refuse_existing(store: ResultStore, names: list[str]) -> None:
    t = store.read_table("scores", ["score_set"])
    have = set(t.column("score_set").to_pylist()) if t.num_rows else set()
    taken = [n for n in names if n in have]
    if taken:
        raise UserError(
            f"score set(s) {', '.join(taken)} already exist in {store.uri}; nothing imported "
            "(choose another --name)"
        )


def _score_row(
    key: tuple[Any, ...], set_name: str, rater: str, rubric: str, s: dict[str, int]
) -> dict[str, Any]:
    return {
        **dict(zip(SCORE_KEY, key, strict=True)),
        "score_set": set_name,
        "judge_model": "human",
        "judge_model_id": rater,
        "rubric_version": rubric,
        "judge_id": episode_id({"human": set_name, "rater": rater, "rubric": rubric}),
        "accuracy": s["accuracy"],
        "completeness": s["completeness"],
        "coherence": s["coherence"],
        "actionability": s["actionability"],
        "mission_score": s["mission_relevance"],
        "quality": (s["accuracy"] + s["completeness"] + s["coherence"] + s["actionability"]) / 16,
        "mission_relevance": s["mission_relevance"] / 4,
        "judge_failed": False,
        "judge_calls": 0,
        "judge_prompt_tokens": 0,
        "judge_completion_tokens": 0,
        "justification": "",
        "error": "",
        "scored_at": datetime.now(UTC),
    }


def export_sample(results_dir: str, out: str, sample: int = 50, seed: int = 0) -> int:
    """Write the blinded rating sheet; returns its rows."""

    if not out.endswith((".csv", ".parquet")):
        raise UserError(f"--out {out}: use a .csv or .parquet file")
    store = ResultStore(results_dir)
    cfg = stored_config(results_dir).as_run()
    keys = sample_keys(results_dir, sample, seed)
    jobs = [j for j in _jobs(store, cfg, set())[0] if j.key in keys]
    random.Random(seed).shuffle(jobs)
    key = list(SCORE_KEY)
    sheet = pl.DataFrame(
        [
            {
                "episode_id": j.key[key.index("episode_id")],
                "step": j.key[key.index("step")],
                "mission": j.mission,
                "task": render_task(j.task),
                "deliverable": anonymise(j.deliverable, j.seed),
                **{d: None for d in DIMENSIONS},
                "rater": None,
            }
            for j in jobs
        ],
        schema_overrides={d: pl.Int8 for d in DIMENSIONS} | {"rater": pl.String},
    )
    if out.endswith(".csv"):
        sheet.write_csv(out)
    else:
        sheet.write_parquet(out)
    return sheet.height


def sample_keys(results_dir: str, k: int, seed: int = 0) -> set[tuple[object, ...]]:
    """K run steps, round robin over the strata protocol x n_agents x level in a seeded order.

    The order hashes what names a run step in every launch of the same sweep (episode id and
    step), not the commit batch or attempt, so the same seed draws the same steps from a rerun,
    a resumed run or a copy of these results."""
    from sweep.results.reader import load

    strata = ["protocol", "n_agents", "level"]
    runs = load(results_dir).runs.select(*SCORE_KEY, *strata).collect()
    order = runs.with_columns(
        pl.struct("episode_id", "step").hash(seed).alias("_h"),
        pl.struct(*strata).hash(seed).alias("_s"),
    ).with_columns(pl.col("_h").rank("ordinal").over(strata).alias("_r"))
    picked = order.sort("_r", "_s").head(k)
    return {tuple(r) for r in picked.select(SCORE_KEY).iter_rows()}
