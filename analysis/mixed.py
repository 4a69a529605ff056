"""The mixed-effects model of a research question: ``Q ~ factor + (1 | task)``.

A random intercept per task unit (``analysis.tables.units``) absorbs what a task adds to every
arm, so the factor's effects are judged against the between-task spread rather than against run
steps that share a task (pseudo-replication). Fitted with statsmodels' ``MixedLM`` (REML) on a
treatment-coded design built here in numpy, so arm names with any characters need no formula
quoting. See docs/design/inference.md.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from analysis import stats


@dataclass(frozen=True)
class MixedFit:
    """Effects of each level against ``reference`` with Wald 95% CIs, the task variance, the
    residual variance and their ICC; ``converged`` is statsmodels' flag and ``warning`` its
    convergence warnings (e.g. a task variance on the boundary, 0)."""

    reference: str
    effects: dict[str, tuple[float, float, float]]  # level -> (estimate, lo, hi)
    var_task: float
    var_residual: float
    icc: float
    n: int
    n_units: int
    converged: bool
    warning: str = ""
    # 95% CIs of var_task, var_residual and icc: a bootstrap over tasks of their one-way ANOVA
    # (moment) estimates on the fixed-effects residuals (``stats.clustered``): refitting REML
    # per resample costs 0.1-1 s a fit. (nan, nan) where undefined.
    var_task_ci: tuple[float, float] = (math.nan, math.nan)
    var_residual_ci: tuple[float, float] = (math.nan, math.nan)
    icc_ci: tuple[float, float] = (math.nan, math.nan)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": "Q ~ factor + stratum + (1 | task) (statsmodels MixedLM, REML)",
            "reference": self.reference,
            "effects": [
                {"level": k, "estimate": _num(e), "ci": [_num(lo), _num(hi)]}
                for k, (e, lo, hi) in self.effects.items()
            ],
            "var_task": _num(self.var_task),
            "var_task_ci": [_num(v) for v in self.var_task_ci],
            "var_residual": _num(self.var_residual),
            "var_residual_ci": [_num(v) for v in self.var_residual_ci],
            "icc": _num(self.icc),
            "icc_ci": [_num(v) for v in self.icc_ci],
            "ci_method": "task bootstrap of the ANOVA moment estimates on fixed-effect residuals",
            "n": self.n,
            "n_units": self.n_units,
            "converged": self.converged,
            "warning": self.warning,
        }


def mixed_model(
    values: npt.NDArray[np.float64],
    levels: Sequence[str],
    units: Sequence[str],
    strata: Sequence[str] | None = None,
) -> MixedFit | None:
    """Fit ``values ~ level + stratum + (1 | unit)``: ``strata`` labels (the other design
    factors' combination) enter as fixed effects, so one fit per research question compares the
    levels within strata. None when the design cannot identify it (fewer than 2 levels or units,
    no replication within units, or constant values)."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    y = np.asarray(values, dtype=np.float64)
    names = sorted({str(v) for v in levels})
    n_units = len(set(units))
    if len(names) < 2 or n_units < 2 or y.size <= n_units or np.ptp(y) == 0:
        return None
    lv = np.asarray([str(v) for v in levels])
    cols = [np.ones(y.size), *[(lv == k).astype(float) for k in names[1:]]]
    st = np.asarray([str(v) for v in strata]) if strata is not None else None
    if st is not None:
        cols += [(st == k).astype(float) for k in sorted(set(st.tolist()))[1:]]
    exog = np.column_stack(cols)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = sm.MixedLM(y, exog, groups=np.asarray(units)).fit(reml=True)
        except (np.linalg.LinAlgError, ValueError):
            return None
    notes = sorted({str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)})
    params, ci = np.asarray(fit.fe_params), np.asarray(fit.conf_int())[: len(names)]
    var_task = float(np.asarray(fit.cov_re)[0, 0])
    var_res = float(fit.scale)
    total = var_task + var_res
    resid = y - exog @ np.linalg.lstsq(exog, y, rcond=None)[0]
    moments = stats.clustered(resid, list(units), list(units))
    return MixedFit(
        reference=names[0],
        effects={
            k: (float(params[i]), float(ci[i, 0]), float(ci[i, 1]))
            for i, k in enumerate(names[1:], start=1)
        },
        var_task=var_task,
        var_residual=var_res,
        icc=var_task / total if total > 0 else math.nan,
        n=int(y.size),
        n_units=n_units,
        converged=bool(getattr(fit, "converged", True)),
        warning="; ".join(notes),
        var_task_ci=moments.var_between_ci,
        var_residual_ci=moments.var_within_ci,
        icc_ci=moments.icc_ci,
    )


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None
