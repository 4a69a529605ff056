"""Protocol-specific behaviour (docs/design/protocols.md section 3), shocks, memory, the
``protocols`` preset and ``orgsweep show``.

Mechanics are checked with a scripted backend whose replies are fixed per (agent, round), so the
expected strengths, lineages and deliverables can be worked out by hand.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections import Counter
from typing import Any

import polars as pl
import pytest

from agents.backends.chat import ChatRequest, ChatResponse
from agents.backends.sim import SimBackend
from agents.catalogue import ModelSpec, SimProfile
from agents.judge import JudgeSpec
from agents.protocols import make_params
from agents.protocols.morphogenetic import topology
from agents.protocols.ripple import waves
from agents.runtime import derive_seed
from agents.tasks import generate_tasks
from sweep.cli import main
from sweep.episode import EpisodeRows, run_episode
from sweep.results.schema import DELIVERABLE
from sweep.results.store import ResultStore
from sweep.spec import EpisodeSpec, ShockSpec

MODEL = ModelSpec("sim_a", "sim/a", sim=SimProfile(capability=0.75))
OTHER = ModelSpec("sim_b", "sim/b", sim=SimProfile(capability=0.4))
JUDGE = JudgeSpec(ModelSpec("sim_judge", "sim/judge"))
TASKS = tuple(generate_tasks(5, "L3", 3, namespace="behaviour"))
MISSION = "Keep our customers' operations secure and affordable."
_AGENT = re.compile(r"^You are agent (\d+) in an organisation", re.M)
_ROUND = re.compile(r"Round (\d+) of")


def spec(name: str, n: int, params: dict[str, Any] | None = None, **kw: Any) -> EpisodeSpec:
    kw.setdefault("store_prompts", True)
    steps = kw.pop("steps", 1)
    return EpisodeSpec(
        name,
        tuple(sorted((params or {}).items())),
        MODEL,
        n,
        kw.pop("roles", "free"),
        "L3",
        TASKS[:steps],
        0,
        MISSION,
        JUDGE,
        **kw,
    )


def run(s: EpisodeSpec, backend: Any = None) -> EpisodeRows:
    return asyncio.run(run_episode(s, backend or SimBackend()))


def _agent(req: ChatRequest) -> int | None:
    if req.schema_name == "judge":
        return None
    m = _AGENT.search("\n".join(m.content for m in req.messages[:2]))  # p2: id in the user text
    return int(m.group(1)) if m else -1


class Recorder:
    """Records (agent, model, purpose, prompt text) of every request to the wrapped sim."""

    def __init__(self) -> None:
        self.sim = SimBackend()
        self.calls: list[tuple[int | None, str, str, str]] = []

    async def chat(self, req: ChatRequest) -> ChatResponse:
        text = "\n\n".join(m.content for m in req.messages)
        self.calls.append((_agent(req), req.model.name, req.purpose, text))
        return await self.sim.chat(req)

    async def aclose(self) -> None:
        return None

    def by_agent(self) -> dict[int | None, list[tuple[str, str]]]:
        out: dict[int | None, list[tuple[str, str]]] = {}
        for agent, model, purpose, text in self.calls:
            if purpose == "agent":
                out.setdefault(agent, []).append((model, text))
        return out


class Scripted:
    """Agent replies fixed per (agent, round) (round read from "Round r of"); the sim judges."""

    def __init__(self, script: dict[tuple[int, int], dict[str, Any]]):
        self.script = script
        self.sim = SimBackend()
        self.prompts: dict[tuple[int, int], str] = {}

    async def chat(self, req: ChatRequest) -> ChatResponse:
        agent = _agent(req)
        if agent is None:
            return await self.sim.chat(req)
        m = _ROUND.search(req.messages[-1].content)
        rnd = int(m.group(1)) if m else 1
        self.prompts[(agent, rnd)] = req.messages[-1].content
        reply = {
            "role": f"Role {agent}",
            "participate": False,
            "contribution": "",
            "builds_on": [],
            "rationale": "",
            **self.script.get((agent, rnd), {}),
        }
        return ChatResponse(json.dumps(reply), 10, 10)

    async def aclose(self) -> None:
        return None


def _trace(req: int, text: str = "", **kw: Any) -> dict[str, Any]:
    return {
        "participate": True,
        "contribution": f"[R{req}] {text or f'work on R{req}'} (checked)",
        "rationale": f"I take R{req}.",
        **kw,
    }


def _deliverable(rows: EpisodeRows, step: int = 0) -> str:
    return next(
        t["text"] for t in rows.transcripts if t["agent"] == DELIVERABLE and t["step"] == step
    )


def _authors(deliverable: str) -> list[int]:
    return [int(a) for a in re.findall(r"^### .*\(agent (\d+)\)$", deliverable, re.M)]


# ---- ripple ----------------------------------------------------------------------------------


def test_ripple_waves_grow_geometrically() -> None:
    assert waves(range(10), 2) == [[0], [1, 2], [3, 4, 5, 6], [7, 8, 9]]
    assert waves([5, 3, 9, 1, 0], 3) == [[5], [3, 9, 1], [0]]
    assert waves(range(3), 1) == [[0], [1], [2]]
    assert waves([], 2) == []
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="growth"):
            make_params("ripple", {"growth": bad})
    rows = run(spec("ripple", 13, {"growth": 3}))
    assert rows.runs[0]["rounds"] == 3  # waves 1, 3, 9
    assert Counter(a["round"] for a in rows.agents) == {1: 1, 2: 3, 3: 9}


def test_ripple_growth_1_is_sequential_turn_for_turn() -> None:
    budget = 40  # small, so the context compaction path is compared too
    seq = run(spec("sequential", 9, {"context_budget_tokens": budget}))
    rip = run(spec("ripple", 9, {"growth": 1, "context_budget_tokens": budget}))
    for table in ("agents", "transcripts"):
        a, b = getattr(seq, table), getattr(rip, table)
        assert [{**r, "episode_id": ""} for r in a] == [{**r, "episode_id": ""} for r in b]
    assert any("(contribution not shown: context budget)" in t["prompt"] for t in rip.transcripts)
    differ = {"episode_id", "protocol", "protocol_params", "wall_s", "finished_at"}
    assert {k: v for k, v in seq.runs[0].items() if k not in differ} == {
        k: v for k, v in rip.runs[0].items() if k not in differ
    }
    assert rip.runs[0]["context_compacted"] and rip.runs[0]["rounds"] == 9


@pytest.mark.parametrize("name", ["sequential", "ripple"])
def test_context_compaction_is_recorded(name: str) -> None:
    small = run(spec(name, 40, {"context_budget_tokens": 200}, store_prompts=False))
    assert small.runs[0]["context_compacted"] is True
    assert run(spec(name, 4, store_prompts=False)).runs[0]["context_compacted"] is False


# ---- stigmergic ------------------------------------------------------------------------------


def test_stigmergic_strengths_endorsements_and_deliverable() -> None:
    script = {
        (0, 1): _trace(1, "zero"),
        (1, 1): _trace(1, "one"),
        (2, 1): {**_trace(2, "two"), "rationale": "no number here", "role": "Owner of R2"},
        (2, 2): {"participate": False, "builds_on": [1], "rationale": "endorse"},
        (3, 2): {**_trace(3, "three"), "builds_on": [1, 3]},  # 3: not visible (self) -> invalid
    }
    b = Scripted(script)
    rows = run(spec("stigmergic", 4), b)
    # after round 1 every trace has 1 * 0.5; round 2: agent 1 +2 endorsements -> 2.5 * 0.5
    round2 = b.prompts[(0, 2)]
    assert "Workspace after round 1:" in round2
    assert re.findall(r"\[trace (R\d)\] agent (\d) \| role: .*? \| strength ([\d.]+)", round2) == [
        ("R1", "0", "0.50"),
        ("R1", "1", "0.50"),
        ("R2", "2", "0.50"),
    ]
    assert "Nothing: you act alone." in b.prompts[(0, 1)]
    deliverable = _deliverable(rows)
    assert _authors(deliverable) == [1, 2, 3]  # strongest per requirement, in requirement order
    assert "zero" not in deliverable
    r = rows.runs[0]
    assert r["n_invalid_refs"] == 1 and r["n_participating"] == 4
    agents = {a["agent"]: a for a in rows.agents}
    assert agents[2]["builds_on"] == [1] and agents[2]["round"] == 1  # last trace, merged refs
    assert agents[3]["builds_on"] == [1] and agents[3]["invalid_refs"] == 1
    assert r["hierarchy_depth"] == 2


def test_stigmergic_ties_go_to_the_earliest_and_unfiled_traces_are_left_out() -> None:
    script = {
        (0, 1): {"participate": True, "contribution": "no requirement named", "rationale": ""},
        (1, 1): _trace(2, "first"),
        (2, 1): _trace(2, "second"),
    }
    rows = run(spec("stigmergic", 3, {"rounds": 1}), Scripted(script))
    assert _authors(_deliverable(rows)) == [1]
    assert rows.runs[0]["rounds"] == 1 and rows.runs[0]["llm_calls"] == 3


def test_stigmergic_evaporation_orders_old_and_new_traces() -> None:
    # round 1: agent 0 on R1; round 2: agent 1 on R1 too. Without evaporation the old trace
    # (1.0) ties the new one (1.0) and wins as the earliest; with evaporation 0.5 it has decayed
    # (0.25 vs 0.5) and the new one wins.
    script = {(0, 1): _trace(1, "old"), (1, 2): _trace(1, "new")}
    keep = run(spec("stigmergic", 2, {"evaporation": 0.0}), Scripted(script))
    decay = run(spec("stigmergic", 2, {"evaporation": 0.5}), Scripted(script))
    assert _authors(_deliverable(keep)) == [0]
    assert _authors(_deliverable(decay)) == [1]
    for bad in ({"evaporation": 1.0}, {"rounds": 0}, {"deposit": 0}):
        with pytest.raises(ValueError):
            make_params("stigmergic", bad)


def test_stigmergic_sim_endorses_and_compacts_at_scale() -> None:
    # L1: few requirements, no phases, so 48 agents cover all of them in round 1 and in round 2
    # sim agents with nothing left to add endorse the strongest trace of a requirement
    l1 = spec("stigmergic", 48, {"context_budget_tokens": 500}, store_prompts=False)
    l1 = dataclasses.replace(l1, level="L1", tasks=tuple(generate_tasks(5, "L1", 1)))
    rows = run(l1)
    r = rows.runs[0]
    assert r["context_compacted"] is True
    assert r["hierarchy_depth"] >= 2
    endorsed = {
        t["agent"]
        for t in rows.transcripts
        if t["round"] == 2 and not t["participate"] and t["rationale"].startswith("I endorse")
    }
    assert len(endorsed) >= 5
    agents = {a["agent"]: a for a in rows.agents}
    assert all(agents[a]["builds_on"] for a in endorsed)


# ---- morphogenetic ---------------------------------------------------------------------------


def test_morphogenetic_topologies() -> None:
    assert topology("ring", 8, 2, 0)[0] == {1, 2, 6, 7}
    assert topology("ring", 3, 2, 0)[0] == {1, 2}
    grid = topology("grid", 9, 1, 0)
    assert grid[4] == {1, 3, 5, 7} and grid[0] == {1, 3} and grid[8] == {5, 7}
    assert topology("grid", 10, 1, 0)[3] == {2, 7}  # 4 wide, no wrapping
    pl_ = topology("power_law", 256, 2, 7)
    assert pl_ == topology("power_law", 256, 2, 7) != topology("power_law", 256, 2, 8)
    assert all(a in pl_[b] for a in pl_ for b in pl_[a])  # undirected
    assert min(len(v) for v in pl_.values()) >= 2
    assert max(len(v) for v in pl_.values()) >= 12  # hubs: a heavy tail, unlike ring and grid
    seen, todo = {0}, [0]
    while todo:
        for b in pl_[todo.pop()] - seen:
            seen.add(b)
            todo.append(b)
    assert seen == set(range(256))
    with pytest.raises(ValueError, match="topology"):
        make_params("morphogenetic", {"topology": "star"})


@pytest.mark.parametrize("kind", ["grid", "power_law"])
def test_morphogenetic_round_2_sees_only_neighbours(kind: str) -> None:
    rec = Recorder()
    rows = run(spec("morphogenetic", 16, {"topology": kind, "neighbours": 1}), rec)
    adj = topology(kind, 16, 1, derive_seed(0, "topology"))
    for agent, calls in rec.by_agent().items():
        assert agent is not None
        shown = {int(a) for a in re.findall(r"^\[agent (\d+)\] intends", calls[1][1], re.M)}
        assert "intends" not in calls[0][1]
        assert shown == adj[agent]
    assert rows.runs[0]["intentions_changed"] is not None


# ---- clonal ----------------------------------------------------------------------------------

CLONAL = {
    (0, 1): {**_trace(1, "seed zero"), "role": "Alpha Lead"},
    (1, 1): {**_trace(2, "seed one"), "role": "Beta Lead"},
    (3, 2): {
        "participate": True,
        "role": "Anything",
        "builds_on": [0],
        "contribution": "[R1] better (checked) [R3] more (checked)",
    },
    (4, 2): {"participate": True, "role": "alpha lead!", "contribution": "[R1] again (checked)"},
    (5, 2): {
        "participate": True,
        "role": "B",
        "builds_on": [1],
        "contribution": "[R2] a (checked) [R4] b (checked) [R5] c (checked)",
    },
    (6, 2): {"participate": True, "role": "Gamma", "contribution": "[R6] alone (checked)"},
}


@pytest.mark.parametrize(
    ("params", "authors"),
    [
        ({}, [3, 5]),  # lineage 0 (affinity 3) then 1 (affinity 2); best = most requirements
        ({"keep_per_lineage": 0}, [3, 0, 4, 5, 1]),
        ({"best": "seed"}, [0, 1]),
    ],
)
def test_clonal_lineages_affinity_and_deliverable(
    params: dict[str, Any], authors: list[int]
) -> None:
    b = Scripted(CLONAL)
    rows = run(spec("clonal", 7, params), b)  # ceil(sqrt(7)) = 3 seeds: agents 0, 1, 2
    assert _authors(_deliverable(rows)) == authors
    seen = b.prompts[(3, 2)]
    assert "[seed agent 0] role: Alpha Lead | proposal" in seen and "seed one" in seen
    assert "seed agent 2" not in seen and "Nothing" not in seen
    roles = {a["agent"]: a["role"] for a in rows.agents}
    assert roles[3] == roles[4] == "Alpha Lead" and roles[5] == "Beta Lead" and roles[6] == "Gamma"
    assert {a["agent"]: a["round"] for a in rows.agents} == {
        0: 1,
        1: 1,
        2: 1,
        3: 2,
        4: 2,
        5: 2,
        6: 2,
    }
    assert rows.runs[0]["hierarchy_depth"] == 2


def test_clonal_seed_count_override() -> None:
    rows = run(spec("clonal", 5, {"seeds": 2}, store_prompts=False))
    assert [a["agent"] for a in rows.agents if a["round"] == 1] == [0, 1]
    assert rows.runs[0]["llm_calls"] == 5
    with pytest.raises(ValueError, match="seeds"):
        make_params("clonal", {"seeds": 0})


# ---- shocks and organisational memory ---------------------------------------------------------


def _steps(rows: EpisodeRows, key: str = "agent") -> list[list[Any]]:
    return [[a[key] for a in rows.agents if a["step"] == s and a["agent"] >= 0] for s in range(3)]


def test_remove_random_agents_make_no_calls_after_the_shock() -> None:
    rec = Recorder()
    rows = run(spec("shared", 6, steps=3, shock=ShockSpec("remove_random", at_step=1, k=2)), rec)
    present = _steps(rows)
    assert present[0] == list(range(6)) and len(present[1]) == 4 and present[2] == present[1]
    gone = set(range(6)) - set(present[1])
    calls = Counter(a for a, _, p, _ in rec.calls if p == "agent")
    assert all(calls[a] == 1 for a in gone) and all(calls[a] == 3 for a in present[1])
    assert [r["n_active"] for r in rows.runs] == [6, 4, 4]
    assert [r["shock"] for r in rows.runs] == ["", "remove_random", ""]


def test_remove_hub_removes_the_most_built_on_agent() -> None:
    rows = run(spec("sequential", 6, steps=3, shock=ShockSpec("remove_hub", at_step=1)))
    refs = Counter(b for a in rows.agents if a["step"] == 0 for b in a["builds_on"] if b >= 0)
    assert refs, "the episode needs someone to build on someone"
    hub = min(refs, key=lambda a: (-refs[a], a))
    present = _steps(rows)
    assert hub in present[0] and hub not in present[1] and hub not in present[2]
    assert len(present[1]) == 5
    assert all(t["agent"] != hub for t in rows.transcripts if t["step"] > 0)


def test_swap_model_changes_the_model_of_a_fraction() -> None:
    rec = Recorder()
    shock = ShockSpec("swap_model", at_step=1, fraction=0.5, model=OTHER)
    rows = run(spec("shared", 8, steps=3, shock=shock), rec)
    models = _steps(rows, "model")
    assert models[0] == ["sim_a"] * 8
    assert Counter(models[1]) == {"sim_a": 4, "sim_b": 4} and models[2] == models[1]
    for agent, calls in rec.by_agent().items():
        assert agent is not None
        assert [m for m, _ in calls] == ["sim_a", *[models[1][agent]] * 2]


def test_mission_shift_changes_the_mission_in_prompts() -> None:
    new = "Cut operating costs by a third this year."
    rec = Recorder()
    rows = run(
        spec("broadcast", 4, steps=3, shock=ShockSpec("mission_shift", at_step=1, mission=new)), rec
    )
    for t in rows.transcripts:
        if t["agent"] == DELIVERABLE:
            continue
        assert (new in t["prompt"]) == (t["step"] >= 1)
        assert (MISSION in t["prompt"]) == (t["step"] == 0)
    judged = [text for a, _, p, text in rec.calls if p == "judge"]
    assert [new in j for j in judged] == [False, True, True]


def test_shared_carries_organisational_memory_between_steps() -> None:
    rows = run(spec("shared", 5, steps=3))
    roles = {
        (a["step"], a["agent"]): a["role"] if a["participate"] else "(abstained)"
        for a in rows.agents
    }
    prompts = {(t["step"], t["agent"]): t["prompt"] for t in rows.transcripts if t["agent"] >= 0}
    assert all("Organisational memory" not in prompts[(0, a)] for a in range(5))
    line1 = "Step 1 roles: " + "; ".join(f"agent {a}: {roles[(0, a)]}" for a in range(5))
    line2 = "Step 2 roles: " + "; ".join(f"agent {a}: {roles[(1, a)]}" for a in range(5))
    for a in range(5):
        assert line1 in prompts[(1, a)] and "Step 2 roles" not in prompts[(1, a)]
        assert line1 in prompts[(2, a)] and line2 in prompts[(2, a)]


def test_agents_table_supports_rsi_and_unique_roles() -> None:
    rows = run(spec("shared", 6, steps=3, store_prompts=False))
    df = pl.DataFrame(rows.agents).select("agent", "step", "role_norm", "participate")
    pairs = (
        df.sort("agent", "step")
        .with_columns(prev=pl.col("role_norm").shift(1).over("agent"))
        .drop_nulls("prev")
    )
    assert pairs.height == 6 * 2
    rsi = (pairs["prev"] == pairs["role_norm"]).mean()
    assert rsi is not None and 0.0 <= float(rsi) <= 1.0  # type: ignore[arg-type]
    assert df.filter(pl.col("participate"))["role_norm"].n_unique() >= 1


# ---- the protocols preset and `orgsweep show` --------------------------------------------------


def test_protocols_preset_plans_all_eight() -> None:
    from sweep.config import build, compose
    from sweep.plan import plan

    typed, _ = build(compose(["sweep=protocols"]))
    specs = plan(typed).specs
    assert {s.protocol for s in specs} == {
        "coordinator",
        "sequential",
        "broadcast",
        "shared",
        "ripple",
        "stigmergic",
        "morphogenetic",
        "clonal",
    }
    assert {s.n_agents for s in specs} == {4, 16, 64} and {s.level for s in specs} == {"L3", "L4"}
    assert {s.model.name for s in specs} == {"llama33_70b", "deepseek_v32"}
    assert 200 <= len(specs) <= 1000 and not typed.store_prompts


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, EpisodeRows, EpisodeRows]:
    root = str(tmp_path_factory.mktemp("show") / "r")
    stig = run(spec("stigmergic", 4))
    coord = run(spec("coordinator", 16, store_prompts=False))
    store = ResultStore(root)
    store.write_text("sweep.yaml", "sweep: show-test\n")  # what makes it a results directory
    for rows in (stig, coord):
        store.write_rows(dataclasses.asdict(rows))
    return root, stig, coord


def test_show_prints_turns_round_by_round(shown, capsys) -> None:
    root, stig, _ = shown
    eid = stig.runs[0]["episode_id"]
    assert main(["show", root, eid[:10]]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"episode {eid} (attempt 1): protocol stigmergic")
    assert out.index("-- round 1") < out.index("-- round 2") < out.index("-- deliverable")
    for t in stig.transcripts:
        if t["agent"] >= 0:
            assert t["role"] in out and t["prompt"].splitlines()[0] in out
    assert "prompt:" in out and "judge: " in out


def test_show_lists_excluded_workers_and_filters_steps(shown, capsys) -> None:
    root, _, coord = shown
    eid = coord.runs[0]["episode_id"]
    assert main(["show", root, eid, "--step", "0"]) == 0
    out = capsys.readouterr().out
    excluded = [a for a in coord.agents if a["abstain_reason"] == "excluded_by_coordinator"]
    assert excluded, "pick a configuration where the coordinator excludes someone"
    for a in excluded:
        assert f"agent {a['agent']} | role: - | abstains (excluded_by_coordinator)" in out
    assert "coordinator | role: Coordinator | participates" in out and "prompt:" not in out
    assert main(["show", root, eid, "--step", "4"]) == 2
    assert f"--step 4: episode {eid} has steps [0]" in capsys.readouterr().err


def test_show_unknown_episode_says_how_to_find_ids(shown, capsys) -> None:
    root = shown[0]
    assert main(["show", root, "nosuchepisode"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"orgsweep: error: episode 'nosuchepisode' was not found in {root}; list episode ids "
        f'with: orgsweep query {root} "SELECT episode_id, protocol FROM runs LIMIT 5"'
    )
