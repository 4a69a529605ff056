"""The viewer's data layer (``analysis.view.data``) and pages without a browser: filters,
sorting and paging of the runs table, an episode's rounds and builds_on anchors, escaping,
and one clear message for bad requests. The aiohttp app is driven in-process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import polars as pl
import pytest
from sim_results import write_sim_results

from analysis.view import data
from analysis.view.server import make_app
from sweep.errors import UserError

SWEEP = [
    "sweep=protocols",
    "sweep.blocks.0.seeds=[0]",
    "sweep.blocks.0.models=[llama33_70b]",
    "sweep.blocks.0.protocols=[broadcast,sequential]",
    "sweep.blocks.0.n_agents=[4,8]",
    "sweep.blocks.0.levels=[L3]",
    "sweep.blocks.0.tasks_per_cell=3",
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> str:
    res = str(tmp_path_factory.mktemp("viewdata") / "r")
    write_sim_results(res, SWEEP)
    return res


def test_runs_page_filters_sorts_and_pages(results: str) -> None:
    res = data.results(results)
    everything = res.runs.collect()
    page, total = data.runs_page(res, data.RunsQuery(limit=5))
    assert total == everything.height == 12 and page.height == 5
    q = data.RunsQuery(
        filters={"protocol": "broadcast", "n_agents": "8"}, sort="quality", descending=False
    )
    page, total = data.runs_page(res, q)
    want = everything.filter((pl.col("protocol") == "broadcast") & (pl.col("n_agents") == 8))
    assert total == want.height == 3
    assert page["quality"].to_list() == sorted(want["quality"].to_list())
    rest, _ = data.runs_page(res, data.RunsQuery(offset=10, limit=5))
    assert rest.height == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (data.RunsQuery(sort="nope"), "sort='nope': choose one of episode_id"),
        (data.RunsQuery(filters={"n_agents": "x"}), "n_agents='x': a whole number"),
        (data.RunsQuery(filters={"seed": "1"}), "filter 'seed': choose one of protocol"),
        (data.RunsQuery(limit=10_000), "limit must be 1-500"),
    ],
)
def test_bad_runs_queries_are_user_errors(results: str, query, message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        data.runs_page(data.results(results), query)


def test_episode_rounds_and_builds_on_anchors(results: str) -> None:
    res = data.results(results)
    eid = res.runs.filter(pl.col("protocol") == "sequential").collect()["episode_id"][0]
    found, steps = data.episode(res, eid[:10])  # a unique prefix is enough
    assert found == eid and len(steps) == 1
    turns = [t for _, ts in steps[0].rounds for t in ts]
    assert {t.agent for t in turns} == set(range(steps[0].run["n_agents"]))
    anchors = {t.anchor for t in turns}
    refs = [anchor for t in turns for _, anchor in t.builds_on]
    assert refs and set(refs) <= anchors  # every builds_on link lands on a turn of the page
    assert steps[0].deliverable and steps[0].judge_reason
    with pytest.raises(UserError, match="was not found"):
        data.episode(res, "zzzz")


def _get(app, path: str) -> tuple[int, str]:
    from aiohttp.test_utils import TestClient, TestServer

    async def go() -> tuple[int, str]:
        async with TestClient(TestServer(app)) as client:
            r = await client.get(path)
            return r.status, await r.text()

    return asyncio.run(go())


def test_pages_escape_model_written_text(results: str, tmp_path: Path) -> None:
    # A role name with markup, as a model could write it.
    (part,) = Path(results, "transcripts").glob("*.parquet")
    evil = tmp_path / "r"
    for sub in ("runs", "agents", "transcripts"):
        (evil / sub).mkdir(parents=True)
        for f in Path(results, sub).glob("*.parquet"):
            df = pl.read_parquet(f)
            if sub == "transcripts":
                df = df.with_columns(role=pl.lit('<b onmouseover="x()">Boss</b>'))
            df.write_parquet(evil / sub / f.name)
    for f in ("sweep.yaml", "plan.parquet"):
        (evil / f).write_bytes(Path(results, f).read_bytes())
    eid = pl.read_parquet(part)["episode_id"][0]
    status, page = _get(make_app(str(evil)), f"/episode/{eid}")
    assert status == 200
    assert '<b onmouseover="x()">' not in page
    assert "&lt;b onmouseover=&#34;x()&#34;&gt;Boss&lt;/b&gt;" in page


def test_overview_and_errors(results: str) -> None:
    status, page = _get(make_app(results), "/")
    assert status == 200 and "12 of 12 planned episodes committed ok" in page
    status, page = _get(make_app(results), "/runs?limit=abc")
    assert status == 400 and "limit=&#39;abc&#39;: a whole number" in page
    with pytest.raises(UserError, match="not an orgsweep results directory"):
        make_app(str(Path(results) / "missing"))


def test_view_cli_names_a_missing_results_dir(tmp_path: Path, capsys) -> None:
    from sweep.cli import main

    assert main(["view", str(tmp_path / "nope"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("orgsweep: error: ") and "not an orgsweep results directory" in err
    assert len(err.strip().splitlines()) == 1


def test_a_score_set_shows_its_scores_and_its_verdict(tmp_path: Path) -> None:
    from sweep.results.store import ResultStore

    res_dir = tmp_path / "r"
    write_sim_results(str(res_dir), [*SWEEP, "sweep.blocks.0.tasks_per_cell=1"])
    run = pl.read_parquet(res_dir / "runs").row(0, named=True)
    key = {k: run[k] for k in ("episode_id", "attempt", "batch", "step")}
    scores = dict.fromkeys(("accuracy", "completeness", "coherence", "actionability"), 4)
    row = {**key, **scores, "score_set": "alt", "judge_model": "glm5", "mission_score": 4}
    row |= {"quality": 1.0, "mission_relevance": 1.0, "judge_failed": False}
    row |= {"justification": "ALT VERDICT", "error": ""}
    ResultStore(str(res_dir)).write_part("scores", [row])
    res = data.results(str(res_dir), "alt")
    assert "alt" in data.score_sets(res)
    _, (step,) = data.episode(res, run["episode_id"])
    assert step.run["quality"] == 1.0 and step.judge_reason == "ALT VERDICT"
    _, (inline,) = data.episode(data.results(str(res_dir)), run["episode_id"])
    assert inline.judge_reason != "ALT VERDICT"
    assert [o["score_set"] for o in inline.other_scores] == ["alt"]


def test_round_graph_keeps_the_step_agents_so_builds_on_edges_reach_earlier_rounds(
    results: str,
) -> None:
    from analysis.view.graph import FAINT, round_graph

    res = data.results(results)
    ids = res.runs.filter(pl.col("protocol") == "sequential").collect()["episode_id"].sort()
    steps = [data.episode(res, eid)[1][0] for eid in ids]  # one step each
    # The first sequential episode (in id order, not the stored order) where someone builds on
    # an earlier turn; the sim's agents do in most episodes of this sweep.
    step, rnd, turns = next(
        (s, r, ts) for s in steps for r, ts in s.rounds if any(t.builds_on for t in ts)
    )
    everyone = {t.agent for _, ts in step.rounds for t in ts}
    g = round_graph(turns, everyone)
    assert len(g.nodes) == len(everyone)  # one per agent of the step, one round acting
    faint = [n for n in g.nodes if n.fill == FAINT]
    assert len(faint) == len(everyone) - len(turns)
    assert len(g.edges) == sum(len(t.builds_on) for t in turns)
    assert all(n.anchor == "" for n in faint) and rnd > 1


def test_sequential_episode_page_draws_every_agent_in_each_round_graph(results: str) -> None:
    res = data.results(results)
    run = res.runs.filter(pl.col("protocol") == "sequential").collect().row(0, named=True)
    status, page = _get(make_app(results), f"/episode/{run['episode_id']}")
    assert status == 200
    graphs = page.split("<svg")[1:]
    assert len(graphs) == run["rounds"] > 1
    assert all(g.split("</svg>")[0].count("<circle") == run["n_agents"] for g in graphs)
