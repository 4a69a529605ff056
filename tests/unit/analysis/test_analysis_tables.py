"""The report's query functions on small hand-built frames with answers worked out by hand:
derived columns, Balance Index, the paper's tables, emergence (RSI, Gini, unique roles,
participation), pairing and Holm in the statistics, and the plan digest behind ``plan_only``."""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from agents.metrics import gini
from analysis import emergence as em
from analysis import tables as tb
from sweep.results.reader import ids_digest
from sweep.results.schema import AGENTS, RUNS

RUN_DEFAULTS: dict[str, Any] = {
    "attempt": 1,
    "batch": "b",
    "step": 0,
    "sweep": "t",
    "block": "b1",
    "protocol": "sequential",
    "protocol_params": "{}",
    "model": "m1",
    "n_agents": 4,
    "roles": "free",
    "level": "L3",
    "seed": 0,
    "steps": 1,
    "shock": "",
    "accuracy": 3,
    "completeness": 3,
    "actionability": 3,
    "quality": 0.75,
    "mission_relevance": 0.75,
    "n_active": 4,
    "n_participating": 4,
    "n_parse_errors": 0,
    "n_unique_roles": 4,
    "hierarchy_depth": 1,
    "prompt_tokens": 1000,
    "completion_tokens": 0,
    "rounds": 1,
    "wall_s": 1.0,
    "status": "ok",
    "backend": "sim",
    "judge_model": "j",
}


def runs_frame(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    """A ``runs`` frame with the real schema; unspecified columns take RUN_DEFAULTS or null."""
    filled = []
    for i, r in enumerate(rows):
        row = {**RUN_DEFAULTS, "episode_id": f"e{i}", "task_hash": f"t{i}", **r}
        row.setdefault("task_id", row["task_hash"])
        filled.append(row)
    return pl.from_arrow(pa.Table.from_pylist(filled, schema=RUNS)).lazy()  # type: ignore[union-attr]


def agents_frame(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    base = {"attempt": 1, "batch": "b", "step": 0, "model": "m1", "participate": True}
    filled = [{**base, "abstain_reason": "", **r} for r in rows]
    for r in filled:
        r.setdefault("role_norm", r.get("role", ""))
    return pl.from_arrow(pa.Table.from_pylist(filled, schema=AGENTS)).lazy()  # type: ignore[union-attr]


# --- derived columns and the Balance Index -----------------------------------------------------


def test_arm_names_only_the_parameters_that_vary() -> None:
    runs = runs_frame(
        [
            {"protocol": "morphogenetic", "protocol_params": '{"budget":6000,"topology":"ring"}'},
            {"protocol": "morphogenetic", "protocol_params": '{"budget":6000,"topology":"power"}'},
            {"protocol": "sequential", "protocol_params": '{"budget":6000}'},
        ]
    )
    arms = tb.with_arm(runs).collect()["arm"].to_list()
    assert arms == ["morphogenetic(topology:ring)", "morphogenetic(topology:power)", "sequential"]


def test_risk_tokens_and_participation() -> None:
    runs = runs_frame(
        [
            {"accuracy": 2, "prompt_tokens": 300, "completion_tokens": 200},  # judged inaccurate
            {"n_parse_errors": 1, "n_participating": 3},  # a parse error
            {"accuracy": 3},  # fine
        ]
    )
    d = tb.with_derived(runs).collect()
    assert d["risk"].to_list() == [1.0, 1.0, 0.0]
    assert d["tokens"].to_list() == [500, 1000, 1000]
    assert d["participation"].to_list() == [1.0, 0.75, 1.0]


def test_minmax_scales_within_block_and_constant_is_best() -> None:
    lf = pl.LazyFrame({"block": ["a", "a", "a", "b"], "x": [1.0, 2.0, 3.0, 7.0]})
    d = lf.select(up=tb.minmax("x"), down=tb.minmax("x", invert=True)).collect()
    assert d["up"].to_list() == [0.0, 0.5, 1.0, 1.0]
    assert d["down"].to_list() == [1.0, 0.5, 0.0, 1.0]


def test_balance_index_by_hand() -> None:
    # Run A: best Q and M, slowest (3 rounds), cheapest, no risk. Run B: the opposite but fast.
    runs = runs_frame(
        [
            {"quality": 1.0, "mission_relevance": 1.0, "rounds": 3, "prompt_tokens": 100},
            {
                "quality": 0.5,
                "mission_relevance": 0.5,
                "rounds": 1,
                "prompt_tokens": 300,
                "accuracy": 1,
            },
        ]
    )
    d = tb.balance_index(runs).collect()
    # A: .25*1 + .20*1 + .20*0 + .20*1 + .15*1 = 0.80; B: 0 + 0 + .20*1 + 0 + 0 = 0.20
    assert d["balance"].to_list() == pytest.approx([0.80, 0.20])
    assert d["t_hat"].to_list() == [0.0, 1.0]
    with pytest.raises(ValueError, match="latency='minutes'; valid: rounds, wall_s"):
        tb.balance_index(runs, latency="minutes")


# --- the paper's tables ----------------------------------------------------------------------


def _two_protocols() -> pl.LazyFrame:
    rows = []
    for proto, qs in (("sequential", [1.0, 0.75]), ("coordinator", [0.5, 0.5])):
        for t, q in enumerate(qs):
            rows.append({"protocol": proto, "quality": q, "task_hash": f"t{t}"})
    return runs_frame(rows)


def test_protocol_comparison_and_seq_vs_coord() -> None:
    runs = _two_protocols()
    t3 = tb.protocol_comparison(runs).collect()
    assert t3["arm"].to_list() == ["sequential", "coordinator"]  # ranked by Q
    assert t3["Q"].to_list() == [0.875, 0.5]
    assert t3["runs"].to_list() == [2, 2]
    t4 = tb.seq_vs_coord(runs).collect()
    assert t4.select("Q_seq", "Q_coord", "n_seq", "n_coord").row(0) == (0.875, 0.5, 2, 2)
    assert t4["delta_pct"][0] == pytest.approx(75.0)


def test_tables_keep_only_strata_where_the_factor_varies() -> None:
    runs = runs_frame(
        [
            {"n_agents": 4, "quality": 0.5},
            {"n_agents": 8, "quality": 1.0},
            {"n_agents": 4, "model": "m2", "quality": 0.6},  # one N only: no scaling row
        ]
    )
    t = tb.scaling(runs).collect()
    assert t.select("model", "n_agents", "Q").rows() == [("m1", 4, 0.5), ("m1", 8, 1.0)]
    # models are compared at one N (4): m2 (0.6) ranks above m1 (0.5)
    assert tb.model_comparison(runs).collect()["model"].to_list() == ["m2", "m1"]
    assert tb.quality_by_level(runs).collect().is_empty()  # one level only


def test_quality_by_level_and_closed_vs_open() -> None:
    runs = runs_frame(
        [
            {"level": "L1", "quality": 1.0, "hierarchy_depth": 1, "completeness": 4},
            {"level": "L4", "quality": 0.5, "hierarchy_depth": 3, "completeness": 2},
            {"level": "L4", "quality": 0.5, "model": "closed", "prompt_tokens": 2000},
        ]
    )
    t9 = tb.quality_by_level(runs).collect()
    assert t9.select("level", "runs", "Q", "HD", "completeness").rows() == [
        ("L1", 1, 1.0, 1.0, 4.0),
        ("L4", 1, 0.5, 3.0, 2.0),  # per model: "closed" runs L4 only and has no level row
    ]
    t8 = tb.closed_vs_open(runs, {"closed"}).collect()
    closed = t8.filter(pl.col("model") == "closed")
    assert closed.select("hosted", "Q", "tokens", "Q_per_1k_tok").row(0) == (True, 0.5, 2000, 0.25)
    assert tb.closed_vs_open(runs, set()).collect().is_empty()


def test_resilience_needs_a_no_shock_arm_on_the_same_tasks() -> None:
    ep = {"episode_id": "e", "steps": 3}
    runs = runs_frame(
        [
            {**ep, "step": 0, "quality": 0.8},
            {**ep, "step": 1, "quality": 0.4, "shock": "remove_hub"},
            {**ep, "step": 2, "quality": 0.6},
            {"quality": 0.1},  # an unshocked episode on another task: nothing to compare with
        ]
    )
    assert tb.resilience(runs).is_empty()


# --- emergence -------------------------------------------------------------------------------


def _emergence_rows() -> pl.LazyFrame:
    """Episode e0 (2 steps, 2 agents) and e1 (1 step, 3 agents)."""
    runs = runs_frame(
        [
            {"episode_id": "e0", "step": 0, "steps": 2, "n_active": 2, "n_participating": 2},
            {"episode_id": "e0", "step": 1, "steps": 2, "n_active": 2, "n_participating": 1},
            {"episode_id": "e1", "step": 0, "n_active": 3, "n_participating": 2},
        ]
    )
    agents = agents_frame(
        [
            {"episode_id": "e0", "step": 0, "agent": 0, "role": "analyst"},
            {"episode_id": "e0", "step": 0, "agent": 1, "role": "writer"},
            {"episode_id": "e0", "step": 1, "agent": 0, "role": "analyst"},  # unchanged
            {
                "episode_id": "e0",
                "step": 1,
                "agent": 1,
                "role": "editor",
                "participate": False,
                "abstain_reason": "voluntary",
            },
            {"episode_id": "e1", "step": 0, "agent": -1, "role": "coordinator"},  # left out
            {"episode_id": "e1", "step": 0, "agent": 0, "role": "analyst"},
            {"episode_id": "e1", "step": 0, "agent": 1, "role": "analyst"},
            {
                "episode_id": "e1",
                "step": 0,
                "agent": 2,
                "participate": False,
                "abstain_reason": "excluded_by_coordinator",
            },
        ]
    )
    return em.agent_rows(agents, runs)


def test_unique_roles_overall_and_per_run() -> None:
    u = em.unique_roles(_emergence_rows(), by=("block",)).collect()
    # slots: analyst x4, writer x1 -> 5 slots, 2 distinct, writer used once.
    assert u.select("runs", "slots", "unique_roles").row(0) == (3, 5, 2)
    assert u["unique_share"][0] == pytest.approx(2 / 5)
    assert u["once_share"][0] == pytest.approx(1 / 2)
    # per run step: e0s0 2/2, e0s1 1/1, e1s0 1/2 -> mean 5/6
    assert u["run_unique_share"][0] == pytest.approx(5 / 6)
    assert u["roles_per_run"][0] == pytest.approx(4 / 3)


def test_rsi_counts_consecutive_steps_of_the_same_agent() -> None:
    r = em.role_stability(_emergence_rows(), by=("block",)).collect()
    # Agent 0 kept "analyst" (1 pair); agent 1 abstained at step 1 (no pair); e1 has one step.
    assert r.select("pairs", "unchanged", "rsi").row(0) == (1, 1, 1.0)


def test_rsi_by_hand_on_three_steps() -> None:
    roles = {0: ["a", "a", "b"], 1: ["x", "y", "y"]}
    runs = runs_frame([{"episode_id": "e", "step": s, "steps": 3} for s in range(3)])
    agents = agents_frame(
        [
            {"episode_id": "e", "step": s, "agent": a, "role": roles[a][s]}
            for a in roles
            for s in range(3)
        ]
    )
    r = em.role_stability(em.agent_rows(agents, runs), by=("block",)).collect()
    assert r.select("pairs", "unchanged").row(0) == (4, 2)
    assert r["rsi"][0] == 0.5


def test_role_gini_matches_the_per_run_definition() -> None:
    g = em.role_gini(_emergence_rows(), by=("block",)).collect()
    assert g["gini"][0] == pytest.approx(gini([4, 1]))  # = 0.3
    assert g["gini"][0] == pytest.approx(0.3)


def test_abstention_voluntary_vs_directed() -> None:
    rows = _emergence_rows()
    a = em.abstention(rows, by=("block",)).collect()
    # 7 worker slots (the coordinator is no worker), 2 idle: one voluntary, one directed.
    assert a.select("slots", "idle", "voluntary", "directed", "other").row(0) == (7, 2, 1, 1, 0)
    assert a["voluntary_share"][0] == 0.5
    assert a["voluntary_rate"][0] == pytest.approx(1 / 7)
    reasons = em.abstention_by_reason(rows, by=("block",)).collect()
    assert reasons.select("reason", "slots", "share").rows() == [
        ("excluded_by_coordinator", 1, 0.5),
        ("voluntary", 1, 0.5),
    ]


def test_participation_and_its_correlation_with_quality() -> None:
    runs = runs_frame(
        [
            {"n_participating": p, "n_active": 4, "quality": q}
            for p, q in ((1, 0.25), (2, 0.5), (3, 1.0), (4, 0.75))
        ]
    )
    pts = em.participation(runs).collect()
    assert pts["participation"].to_list() == [0.25, 0.5, 0.75, 1.0]
    pq = em.participation_quality(runs, by=("block",)).collect()
    assert pq["participation"][0] == pytest.approx(0.625)
    assert pq["spearman_r"][0] == pytest.approx(0.8)  # ranks 1234 vs 1243: 1 - 6*2/60


def test_efficiency_is_a_ratio_of_means() -> None:
    runs = runs_frame(
        [
            {"quality": 0.5, "prompt_tokens": 1000, "cost_usd": 0.01},
            {"quality": 1.0, "prompt_tokens": 3000, "cost_usd": 0.03},
        ]
    )
    e = em.efficiency(runs, by=("block",)).collect()
    assert e.select("Q", "tokens", "tokens_per_q").row(0) == (
        0.75,
        2000.0,
        pytest.approx(2000 / 0.75),
    )
    assert e["Q_per_1k_tok"][0] == pytest.approx(0.375)
    assert e["cost_per_q"][0] == pytest.approx(0.02 / 0.75)


def test_role_matrix_takes_the_first_tasks_of_one_cell() -> None:
    m = em.role_matrix(_emergence_rows(), model="m1", arm="sequential", n_agents=4, tasks=2)
    d = m.collect()
    assert d["task"].unique().sort().to_list() == [0, 1]
    assert d.filter(pl.col("task") == 0)["agent"].to_list() == [0, 1]


# --- statistics: pairing, orientation, Holm --------------------------------------------------


QA = [0.9, 0.8, 0.85, 0.95, 0.7, 0.75, 0.9, 0.6]
QB = [0.5, 0.6, 0.55, 0.7, 0.65, 0.5, 0.45, 0.6]


def _paired_runs(shuffle_b: bool = False) -> pl.LazyFrame:
    qa, qb = QA, QB
    rows = [
        {"protocol": "sequential", "task_hash": f"t{i}", "quality": q} for i, q in enumerate(qa)
    ]
    seeds = [1] * len(qb) if shuffle_b else [0] * len(qb)  # another seed: no pairs
    rows += [
        {"protocol": "coordinator", "task_hash": f"t{i}", "quality": q, "seed": s}
        for i, (q, s) in enumerate(zip(qb, seeds, strict=True))
    ]
    return runs_frame(rows)


def test_paired_design_uses_wilcoxon_else_mann_whitney() -> None:
    from scipy import stats as sps

    paired = tb.statistics(_paired_runs())["comparisons"][0]
    assert (paired["a"], paired["b"], paired["paired"], paired["test"]) == (
        "sequential",
        "coordinator",
        True,
        "wilcoxon",
    )
    qa, qb = QA, QB
    ref = sps.wilcoxon(qa, qb, method=paired["method"])
    assert paired["p_value"] == pytest.approx(ref.pvalue)
    unpaired = tb.statistics(_paired_runs(shuffle_b=True))["comparisons"][0]
    assert (unpaired["paired"], unpaired["test"]) == (False, "mann_whitney")
    assert unpaired["p_value"] == pytest.approx(sps.mannwhitneyu(qa, qb).pvalue)


def test_extremes_orientation_and_holm_within_families() -> None:
    rows = [
        {"n_agents": n, "task_hash": f"t{i}", "quality": 0.5 + 0.1 * k + 0.01 * i}
        for k, n in enumerate((4, 16, 64))
        for i in range(5)
    ]
    st = tb.statistics(runs_frame(rows))
    (om,) = st["omnibus"]
    (cmp,) = st["comparisons"]
    assert (om["factor"], om["k"], om["n"]) == ("n_agents", 3, 15)
    assert (cmp["a"], cmp["b"]) == (64, 4)  # largest vs smallest N
    assert cmp["delta_pct"] == pytest.approx((0.72 - 0.52) / 0.52 * 100)
    # undeclared: one family per (factor, block), the omnibus tests one of their own
    assert (cmp["family"], om["family"]) == ("n_agents/b1", "n_agents/b1 (omnibus)")
    assert (om["p_holm"], cmp["p_holm"]) == (om["p_value"], cmp["p_value"])
    assert st["n_tests"] == 2


def test_plan_digest_of_ids_matches_the_planner() -> None:
    from sweep.config import build, compose
    from sweep.plan import plan

    typed, _ = build(compose(["sweep.limit=5"]))
    p = plan(typed)
    assert ids_digest(list(reversed(p.ids))) == p.digest()
    assert len(p.ids) == 5
