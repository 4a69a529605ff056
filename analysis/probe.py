"""``orgsweep probe RESULTS_DIR --kind KIND [--sample K] [judge overrides]``: a bias probe.

A stratified sample of K stored deliverables (round robin over protocol x N x level, in a
seeded order) is judged twice by the same judge through ``sweep.rescore``'s machinery (resumable,
atomic, any backend): unchanged, into the score set ``probe-base-<judge>-<rubric>`` (shared by
every kind), and after the ``agents.probes`` transform, into ``probe-<kind>-<judge>-<rubric>``.
Both are ordinary score sets (``orgsweep query``, ``orgsweep agree``). The change of each
dimension and of Q (probe - base) gets a 95% CI from a bootstrap over tasks; the verdict rules
and the tolerance are in docs/design/judge-reliability.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from agents.probes import PROBES
from analysis.agreement import DIMENSIONS, paired, task_bootstrap
from sweep.config import build, compose
from sweep.errors import UserError
from sweep.labels import sample_keys
from sweep.rescore import Job, rescore
from sweep.results.schema import SCORE_KEY
from sweep.stored import stored_config

# Half the smallest change one judgement can make in Q (one rubric point = 1/16): a probe passes
# when fewer than one deliverable in two gains or loses a point on average (see the design doc).
TOLERANCE = 1 / 32
INVARIANT = ("pad", "shuffle", "anonymise")


@dataclass(frozen=True)
class Change:
    on: str  # a dimension or "Q"
    mean: float  # probe - base
    lo: float
    hi: float


@dataclass(frozen=True)
class ProbeResult:
    kind: str
    score_set: str
    baseline: str
    n: int
    tasks: int
    changes: tuple[Change, ...]
    verdict: str  # pass | fail | inconclusive
    rule: str
    sim: bool
    judged: int  # judge calls made by this invocation (base + probe)
    warnings: tuple[str, ...] = ()  # self-judging warnings of the probe's judge

    def get(self, on: str) -> Change:
        return next(c for c in self.changes if c.on == on)


def probe(
    results_dir: str,
    kind: str,
    *,
    sample: int = 100,
    overrides: Sequence[str] = (),
    seed: int = 0,
    resamples: int = 1000,
    concurrency: int = 32,
) -> ProbeResult:
    if kind not in PROBES:
        raise UserError(f"--kind {kind!r} is not a probe; valid: {', '.join(PROBES)}")
    if sample < 1:
        raise UserError(f"--sample {sample} must be at least 1")
    typed, warns = build(compose(stored_config(results_dir).launch_overrides(overrides)))
    spec = typed.judge
    suffix = f"{spec.model.name}-{spec.rubric_version}"
    keys = sample_keys(results_dir, sample, seed)
    transform = PROBES[kind]

    def select(jobs: list[Job]) -> list[Job]:
        return [j for j in jobs if j.key in keys]

    def change(jobs: list[Job]) -> list[Job]:
        return [
            dataclasses.replace(j, deliverable=transform(j.deliverable, j.seed))
            for j in select(jobs)
        ]

    base, made = f"probe-base-{suffix}", f"probe-{kind}-{suffix}"
    r1 = rescore(results_dir, overrides, name=base, concurrency=concurrency, prepare=select)
    r2 = rescore(results_dir, overrides, name=made, concurrency=concurrency, prepare=change)
    result = compare(results_dir, kind, base, made, keys, resamples=resamples, seed=seed)
    return dataclasses.replace(
        result, judged=r1.scored + r2.scored, warnings=tuple(w for w in warns if "judge" in w)
    )


def compare(
    results_dir: str,
    kind: str,
    base: str,
    made: str,
    keys: set[tuple[object, ...]] | None = None,
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> ProbeResult:
    """Probe set ``made`` against its base set on the steps both scored (within ``keys``)."""
    from sweep.results.reader import load

    pairs = paired(load(results_dir, score_set=base).runs, load(results_dir, score_set=made).runs)
    if keys is not None:
        in_sample = pl.DataFrame([list(k) for k in keys], schema=list(SCORE_KEY), orient="row")
        pairs = pairs.join(in_sample, on=list(SCORE_KEY), how="semi", nulls_equal=True)
    both = pairs.filter(
        pl.col("scored_a") & pl.col("scored_b") & ~pl.col("failed_a") & ~pl.col("failed_b")
    )
    if both.is_empty():
        raise UserError(f"probe {kind!r}: no sampled run step was scored in both {base} and {made}")
    point = _diffs(both)
    cis = task_bootstrap(both, _diffs, resamples, seed)
    changes = tuple(Change(on, v, *cis[on, ""]) for (on, _), v in point.items())
    verdict, rule = verdict_of(kind, {c.on: c for c in changes})
    return ProbeResult(
        kind,
        made,
        base,
        both.height,
        both["task_id"].n_unique(),
        changes,
        verdict,
        rule,
        bool(both["sim"].any()),
        0,
    )


def _diffs(f: pl.DataFrame) -> dict[tuple[str, str], float]:
    def mean_change(c: str) -> float:
        return float((f[f"{c}_b"].cast(pl.Float64) - f[f"{c}_a"].cast(pl.Float64)).mean())  # type: ignore[arg-type]

    out = {(d, ""): mean_change(d) for d in DIMENSIONS}
    out["Q", ""] = mean_change("quality")
    return out


def verdict_of(kind: str, c: dict[str, Change]) -> tuple[str, str]:
    """(pass | fail | inconclusive, the rule) of one probe's changes."""
    q, tol = c["Q"], TOLERANCE
    if kind in INVARIANT:
        rule = f"|dQ| < {tol:.4f} with its 95% CI inside +/-{tol:.4f}"
        if abs(q.mean) >= tol:
            return "fail", rule
        return ("pass" if -tol < q.lo and q.hi < tol else "inconclusive"), rule
    if kind == "duplicate":
        rule = f"repetition earns nothing: dQ's 95% CI below +{tol:.4f}"
        if q.mean >= tol:
            return "fail", rule
        return ("pass" if q.hi < tol else "inconclusive"), rule
    comp = c["completeness"]
    rule = "completeness must drop: its 95% CI below 0"
    if comp.mean >= 0:
        return "fail", rule
    return ("pass" if comp.hi < 0 else "inconclusive"), rule


def table_rows(r: ProbeResult) -> list[list[str]]:
    """[on, change, 95% CI] rows."""
    return [[c.on, f"{c.mean:+.3f}", f"[{c.lo:+.3f}, {c.hi:+.3f}]"] for c in r.changes]
