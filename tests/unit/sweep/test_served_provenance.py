"""The model id a server reports and estimated token counts are recorded per run step and per
agent (agents.served; docs/design/inference.md): the sim writes ``sim:<name>`` and flags every
call estimated; a server that reports another model is counted as a mismatch."""

from __future__ import annotations

import asyncio
import dataclasses

import pyarrow as pa

from agents.backends.chat import ChatRequest, ChatResponse, served_elsewhere
from agents.backends.sim import SimBackend
from agents.catalogue import ModelSpec, SimProfile
from agents.judge import JudgeSpec
from agents.tasks import generate_tasks
from sweep.episode import run_episode
from sweep.results.schema import AGENTS, RUNS
from sweep.spec import EpisodeSpec

MODEL = ModelSpec("sim_a", "sim/a", sim=SimProfile(capability=0.75))
JUDGE = ModelSpec("sim_judge", "sim/judge")


class _Relabelled:
    """The sim, but its server reports ``served`` as the model and sends usage for agents."""

    def __init__(self, served: str, fingerprint: str = "fp-1"):
        self.sim, self.served, self.fingerprint = SimBackend(), served, fingerprint

    async def chat(self, request: ChatRequest) -> ChatResponse:
        r = await self.sim.chat(request)
        if request.purpose == "judge":
            return r
        return dataclasses.replace(
            r, served_model=self.served, fingerprint=self.fingerprint, tokens_estimated=False
        )

    async def aclose(self) -> None:
        return None


def _rows(backend: object, n: int = 3) -> tuple[list[dict], list[dict]]:
    tasks = tuple(generate_tasks(4, "L2", 2, namespace="served"))
    spec = EpisodeSpec("broadcast", (), MODEL, n, "free", "L2", tasks, 0, "A mission.",
                       JudgeSpec(JUDGE))  # fmt: skip
    rows = asyncio.run(run_episode(spec, backend))  # type: ignore[arg-type]
    # The rows fit the schema (no unknown or mistyped column).
    pa.Table.from_pylist([{**r, "batch": "b"} for r in rows.runs], schema=RUNS)
    pa.Table.from_pylist([{**a, "batch": "b"} for a in rows.agents], schema=AGENTS)
    return rows.runs, rows.agents


def test_sim_writes_its_own_served_id_and_flags_every_call_estimated() -> None:
    runs, agents = _rows(SimBackend())
    for r in runs:
        assert r["served_model"] == "sim:sim_a" and r["judge_served_model"] == "sim:sim_judge"
        assert r["tokens_estimated"] == r["llm_calls"] + r["repair_calls"] > 0
        assert r["judge_tokens_estimated"] == r["judge_calls"]
        assert r["served_mismatch"] == 0 and r["served_fingerprint"] == ""
    assert all(a["served_model"] == "sim:sim_a" for a in agents)
    assert all(a["tokens_estimated"] == a["calls"] + a["repairs"] for a in agents)


def test_a_server_reporting_another_model_is_counted_per_call() -> None:
    runs, agents = _rows(_Relabelled("other/model-v2"))
    for r in runs:
        assert r["served_model"] == "other/model-v2"
        assert r["served_mismatch"] == r["llm_calls"] + r["repair_calls"] > 0
        assert r["served_fingerprint"] == "fp-1"
        assert r["tokens_estimated"] == 0 and r["judge_tokens_estimated"] == r["judge_calls"]
    assert {a["served_model"] for a in agents} == {"other/model-v2"}


def test_the_configured_name_or_id_is_not_a_mismatch() -> None:
    runs, _ = _rows(_Relabelled("sim/a"))
    assert [r["served_mismatch"] for r in runs] == [0, 0]
    assert not served_elsewhere(MODEL, "sim_a") and not served_elsewhere(MODEL, "")
    assert served_elsewhere(MODEL, "sim:other")


def test_report_counts_estimated_and_mismatched_calls_also_in_older_rows() -> None:
    import polars as pl

    from analysis.tables.served import counts, head_lines, served_table

    runs = pl.DataFrame(
        {
            "block": ["b"] * 4,
            "backend": ["sim", "sim", "openai", "openai"],
            "model": ["m"] * 4,
            "llm_calls": [4, 4, 4, 4],
            "repair_calls": [1, 0, 0, 0],
            "judge_calls": [1, 1, 1, 1],
            # row 1: written before the flags (sim: all estimated); row 3: before, not sim
            "tokens_estimated": [5, None, 2, None],
            "judge_tokens_estimated": [1, None, 0, None],
            "served_mismatch": [0, None, 3, None],
            "served_model": ["sim:m", None, "m-2025,m", None],
            "judge_served_model": ["sim:j", None, "j", None],
            "served_fingerprint": ["", None, "fp", None],
        }
    )
    assert counts(runs) == {"calls": 21, "calls_estimated": 13, "calls_mismatched": 3}
    lines = head_lines(runs)
    assert "13 of 21 LLM calls are estimates" in lines[0] and "1 run steps predate" in lines[0]
    assert lines[1].startswith("3 of 21 LLM calls were answered by a server reporting another")
    table = served_table(runs.lazy()).collect()
    assert table.filter(pl.col("backend") == "openai")["served_model"].to_list() == ["m,m-2025"]
