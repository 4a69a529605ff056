"""Accounting: the runs' agent and judge parts of GPU time and USD, results written before those
columns, the plan's estimate stored at launch, and status's spent-against-planned lines."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from agents.backends.sim import SimBackend
from sweep import cost
from sweep.config import build, compose
from sweep.episode import run_episode
from sweep.errors import UserError
from sweep.estimate import as_json
from sweep.plan import plan
from sweep.plan_cost import plan_estimate, store_estimate
from sweep.results.planned_cost import PLAN_COST, read_plan_cost
from sweep.results.store import ResultStore
from sweep.spend import lines, planned, spent

SPLIT = ("agent_gpu_s", "judge_gpu_s", "agent_cost_usd", "judge_cost_usd")


def _smoke(*extra: str):  # type: ignore[no-untyped-def]
    cfg = compose(["sweep=smoke", *extra])
    typed, _ = build(cfg)
    return cfg, typed, plan(typed)


def test_runs_split_gpu_seconds_and_usd_into_agent_and_judge_parts() -> None:
    _, _, p = _smoke("backend=vllm")
    spec = p.specs[0]
    row = asyncio.run(run_episode(spec, SimBackend())).runs[0]
    s = cost.default_settings()
    assert row["agent_gpu_s"] == pytest.approx(
        cost.attributed_gpu_s(spec.model, row["prompt_tokens"], row["completion_tokens"])
    )
    assert row["agent_gpu_s"] > 0 and row["judge_gpu_s"] > 0
    assert row["gpu_s"] == pytest.approx(row["agent_gpu_s"] + row["judge_gpu_s"])
    price = cost.accelerator(spec.judge.model, s).usd_per_gpu_hour
    assert row["judge_cost_usd"] == pytest.approx(row["judge_gpu_s"] * price / 3600)
    assert row["cost_usd"] == pytest.approx(row["agent_cost_usd"] + row["judge_cost_usd"])
    sim = asyncio.run(run_episode(dataclasses.replace(spec, engine="sim"), SimBackend())).runs[0]
    assert all(sim[c] is None for c in ("gpu_s", "cost_usd", *SPLIT))


def test_hosted_agents_are_priced_and_hold_no_gpu() -> None:
    _, _, p = _smoke("backend=vllm")
    spec = p.specs[0]
    hosted = dataclasses.replace(
        spec.model, hosted=True, price_in_per_mtok=3.0, price_out_per_mtok=15.0
    )
    g, usd = cost.attributed_cost(hosted, 1e6, 1e5, served=True)
    assert g is None and usd == pytest.approx(3.0 + 1.5)
    cols = cost.split_columns((g, usd), (10.0, 0.5))
    assert cols["gpu_s"] == 10.0 and cols["cost_usd"] == pytest.approx(5.0)
    assert cost.split_columns((None, None), (10.0, 0.5))["cost_usd"] is None


def test_results_written_before_the_split_columns_still_read(tmp_path: Path) -> None:
    _, _, p = _smoke("backend=vllm")
    rows = asyncio.run(run_episode(p.specs[0], SimBackend()))
    store = ResultStore(str(tmp_path / "r"))
    store.write_rows({"runs": rows.runs, "agents": rows.agents, "transcripts": rows.transcripts})
    (part,) = store.parts("runs")
    old = pq.read_table(part).drop_columns(list(SPLIT))  # as an older orgsweep wrote it
    pq.write_table(old, part)
    s = spent(store)
    assert s.gpu_h == pytest.approx(sum(r["gpu_s"] for r in rows.runs) / 3600)
    assert s.agent_gpu_h == 0.0 and s.judge_gpu_h == 0.0 and s.steps_with_gpu == len(rows.runs)
    from sweep.results.reader import load

    runs = load(store.uri, plan_only=False).runs.collect()
    assert runs["agent_cost_usd"].null_count() == runs.height


def test_the_estimate_is_stored_once_per_plan(tmp_path: Path) -> None:
    cfg, typed, p = _smoke("backend=vllm", "cluster=ray")
    store = ResultStore(str(tmp_path / "r"))
    said: list[str] = []
    store_estimate(store, cfg, typed, p, said.append)
    rec = read_plan_cost(store)
    assert rec is not None and rec["plan_digest"] == p.digest() and not said
    fresh = as_json(plan_estimate(cfg, typed, p, None))
    assert rec["cost"]["total"] == pytest.approx(fresh["total"])
    # A relaunch of the same plan keeps what was planned at the first launch.
    rec["cost"]["total"]["usd"] = 123.0
    store.write_text(PLAN_COST, json.dumps(rec))
    store_estimate(store, cfg, typed, p, said.append)
    assert planned(store).usd == 123.0  # type: ignore[union-attr]
    # Another plan replaces it.
    cfg2, typed2, p2 = _smoke("backend=vllm", "cluster=ray", "sweep.limit=2")
    store_estimate(store, cfg2, typed2, p2, said.append)
    assert read_plan_cost(store)["plan_digest"] == p2.digest()  # type: ignore[index]
    store.write_text(PLAN_COST, "{not json")
    with pytest.raises(UserError, match=r"plan_cost\.json is not valid JSON"):
        planned(store)
    store_estimate(store, cfg2, typed2, p2, said.append)  # a launch writes it again
    assert read_plan_cost(store)["plan_digest"] == p2.digest()  # type: ignore[index]


def test_status_lines_put_spent_against_the_plan(tmp_path: Path) -> None:
    cfg, typed, p = _smoke("backend=vllm", "cluster=ray")
    store = ResultStore(str(tmp_path / "r"))
    assert lines(spent(store), planned(store)) == []
    store_estimate(store, cfg, typed, p, lambda _: None)
    rows = asyncio.run(run_episode(p.specs[0], SimBackend()))
    store.write_rows({"runs": rows.runs, "agents": rows.agents, "transcripts": rows.transcripts})
    s, pl_ = spent(store), planned(store)
    assert pl_ is not None and s.agent_gpu_h + s.judge_gpu_h == pytest.approx(s.gpu_h)
    text = "\n".join(lines(s, pl_))
    assert f"{s.gpu_h:,.2f} GPU-h" in text and f"agents {s.agent_gpu_h:,.2f}" in text
    assert f"planned at launch ({PLAN_COST}" in text and f"USD {pl_.usd:,.2f}" in text
    assert f"{s.gpu_h / pl_.work_gpu_h:.0%} of the work" in text


def test_rescore_rows_carry_their_judges_gpu_time_and_usd() -> None:
    from agents.judge import Verdict
    from sweep.rescore import Job, _row_maker

    _, typed, p = _smoke("backend=vllm")
    spec = p.specs[0]
    job = Job(("e", 1, "b", 0), spec.tasks[0], spec.mission, "text", 1)
    v = Verdict(None, "", 1, 2000, 100, "unparsed")  # a failed judgement still cost its calls
    row = _row_maker("s", "id", typed.judge, served=True)(job, v)
    g, usd = cost.attributed_cost(typed.judge.model, 2000, 100, served=True)
    assert row["judge_gpu_s"] == pytest.approx(g) and row["judge_cost_usd"] == pytest.approx(usd)
    sim = _row_maker("s", "id", typed.judge, served=False)(job, v)
    assert sim["judge_gpu_s"] is None and sim["judge_cost_usd"] is None


def test_status_json_has_spent_and_planned(tmp_path: Path) -> None:
    from rich.console import Console

    from sweep.launch import manifest_text
    from sweep.results.manifest import MANIFEST
    from sweep.status import status

    res = str(tmp_path / "r")
    over = [f"results_dir={res}", "sweep.limit=2", "backend=vllm", "cluster=ray"]
    cfg, typed, p = _smoke(*over)
    store = ResultStore(res)
    rows = asyncio.run(run_episode(p.specs[0], SimBackend()))  # the vllm engine's accounting
    store.write_rows({"runs": rows.runs, "agents": rows.agents, "transcripts": rows.transcripts})
    store.write_plan(p.ids)
    store.write_text(MANIFEST, manifest_text(cfg, typed, p, ["sweep=smoke", *over]))
    store_estimate(store, cfg, typed, p, lambda _: None)
    con = Console(record=True, width=200)
    out = status(res, con)["cost"]
    assert out["planned"]["work_gpu_h"] > 0 and out["spent"]["gpu_h"] > 0
    assert "planned at launch" in con.export_text()
