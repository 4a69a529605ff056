"""The report's judge-reliability section, shown when the results hold more than one score set.

Two tables: the agreement of every other score set with the launch's judge (``default``), from
``analysis.agreement``, and every bias probe found (``probe-<kind>-<judge>`` beside its
``probe-base-<judge>``), from ``analysis.probe.compare``; each with 95% CIs from a bootstrap over
tasks. The report uses ``RESAMPLES`` resamples (fewer than ``orgsweep agree``'s 1000, to keep
the report fast); ``orgsweep agree`` / ``orgsweep probe`` recompute one row with more.
"""

from __future__ import annotations

import polars as pl

from analysis._render import Section
from sweep.errors import UserError

RESAMPLES = 200


def _ci(lo: float, hi: float) -> str:
    return f"[{lo:.3f}, {hi:.3f}]"


def agreement_table(results_dir: str, sets: list[str], resamples: int = RESAMPLES) -> pl.DataFrame:
    from analysis.agreement import agree

    rows = []
    for name in sets:
        try:
            ag = agree(results_dir, "default", name, resamples=resamples)
        except UserError:  # e.g. a set with no step in common: shown as no row
            continue
        alpha, icc = ag.get("alpha (ordinal)", "all dimensions"), ag.get("ICC(2,1)", "Q")
        rho, md = ag.get("spearman", "Q"), ag.get("mean difference (B-A)", "Q")
        lo, hi = ag.get("lower limit of agreement", "Q"), ag.get("upper limit of agreement", "Q")
        rows.append(
            {
                "score_set": name,
                "n": ag.n,
                "tasks": ag.tasks,
                "left_out": ag.left_out_failed + ag.left_out_unscored,
                "alpha": alpha.value,
                "alpha_ci": _ci(alpha.lo, alpha.hi),
                "icc_2_1_Q": icc.value,
                "icc_ci": _ci(icc.lo, icc.hi),
                "spearman_Q": rho.value,
                "spearman_ci": _ci(rho.lo, rho.hi),
                "mean_dQ": md.value,
                "dQ_ci": _ci(md.lo, md.hi),
                "limits_of_agreement": f"{lo.value:.3f} .. {hi.value:.3f}",
            }
        )
    return pl.DataFrame(rows)


def probe_table(results_dir: str, sets: list[str], resamples: int = RESAMPLES) -> pl.DataFrame:
    from agents.probes import PROBES
    from analysis.probe import compare

    rows = []
    for name in sets:
        kind = name.split("-")[1] if name.count("-") >= 2 else ""
        base = f"probe-base-{name.split('-', 2)[-1]}"
        if kind not in PROBES or base not in sets:
            continue
        try:
            r = compare(results_dir, kind, base, name, resamples=resamples)
        except UserError:
            continue
        q, comp = r.get("Q"), r.get("completeness")
        rows.append(
            {
                "probe": kind,
                "score_set": name,
                "n": r.n,
                "tasks": r.tasks,
                "dQ": q.mean,
                "dQ_ci": _ci(q.lo, q.hi),
                "d_completeness": comp.mean,
                "d_completeness_ci": _ci(comp.lo, comp.hi),
                "d_coherence": r.get("coherence").mean,
                "result": r.verdict,
                "rule": r.rule,
            }
        )
    return pl.DataFrame(rows)


def judge_sections(results_dir: str, scores: pl.LazyFrame | None) -> list[Section]:
    """The section (heading, agreement table, probe table), or none with one score set only."""
    if scores is None:
        return []
    sets = scores.select("score_set").unique().collect()["score_set"].to_list()
    names = sorted(n for n in sets if n != "default")  # default: the sweep's own deferred judge
    if not names:
        return []
    probes = [n for n in names if n.startswith("probe-")]
    others = [n for n in names if not n.startswith("probe-")]
    A, P = "analysis.judge_report", "agents.probes, analysis.probe"
    return [
        Section(
            "Judge reliability",
            caption=f"The results hold {len(names) + 1} score sets (`default` and "
            f"{', '.join(f'`{n}`' for n in names)}). 95% CIs from {RESAMPLES} bootstrap "
            "resamples of tasks (docs/design/judge-reliability.md).",
        ),
        Section(
            "Agreement with the launch's judge",
            f"{A}.agreement_table (analysis.agreement.agree(dir, 'default', set))",
            "alpha = Krippendorff's ordinal alpha over the five dimensions; ICC(2,1), Spearman "
            "and mean dQ (set - default) on Q; limits of agreement = mean dQ -/+ 1.96 sd.",
            agreement_table(results_dir, others),
            "no score set besides the probes' (make one with `orgsweep rescore` or "
            "`orgsweep scores import`)",
            level=3,
        ),
        Section(
            "Bias probes",
            f"{A}.probe_table ({P}.compare)",
            "Change (probe - base) of Q and completeness on the same sampled run steps by the "
            "same judge; result per the rule shown (tolerance 1/32 on Q).",
            probe_table(results_dir, probes),
            "no probe in these results (run `orgsweep probe RESULTS_DIR --kind pad`)",
            level=3,
        ),
    ]
