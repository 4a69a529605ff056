"""Judge reliability end to end on sim: two sim judges with different profiles, agreement with
CIs containing the simulated truth, probes as score sets readable by `orgsweep query`, the
blinded export for raters, and the report's judge section."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from agents.backends.chat import ChatRequest
from agents.backends.sim import respond
from agents.judge import JUDGE_SCHEMA, judge_messages
from analysis.agreement import agree
from sweep.cli import main
from sweep.rescore import _jobs
from sweep.results.store import ResultStore
from sweep.stored import stored_config

pytestmark = pytest.mark.integration

# 2 models x 2 protocols x N=4 x 2 levels x 8 tasks = 64 one-step episodes over 16 tasks.
SWEEP = [
    "sweep=protocols",
    "sweep.blocks.0.seeds=[0]",
    "sweep.blocks.0.protocols=[sequential,coordinator]",
    "sweep.blocks.0.n_agents=[4]",
    "sweep.blocks.0.tasks_per_cell=8",
]


@pytest.fixture(scope="module")
def launched(ensure_ray: Callable[[], None], tmp_path_factory: pytest.TempPathFactory) -> Path:
    ensure_ray()
    res = tmp_path_factory.mktemp("judge") / "r"
    assert main(["launch", *SWEEP, f"results_dir={res}", "--no-progress"]) == 0
    return res


@pytest.fixture
def sweep_dir(launched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    shutil.copytree(launched, tmp_path / "r")
    return str(tmp_path / "r")


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = main(list(args))
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


def _expected_glm5_dq(results_dir: str, draws: int = 40) -> float:
    """The simulated truth: mean over run steps of E[Q by glm5's sim judge] - Q by the
    reference judge, the expectation over the judge's noise taken over ``draws`` seeds."""
    store = ResultStore(results_dir)
    cfg = stored_config(results_dir).as_run()
    glm5, ref = cfg.models["glm5"], cfg.judge.model
    jobs = _jobs(store, cfg, set())[0]

    def q(model: object, job: object, seed: int) -> float:
        msgs = judge_messages(job.task, job.mission, job.deliverable)  # type: ignore[attr-defined]
        req = ChatRequest(model, msgs, 0.0, 512, seed, "judge", JUDGE_SCHEMA, "judge")  # type: ignore[arg-type]
        r = json.loads(respond(req))
        return (r["accuracy"] + r["completeness"] + r["coherence"] + r["actionability"]) / 16

    diffs = [
        np.mean([q(glm5, j, s) for s in range(draws)]) - q(ref, j, j.seed)  # type: ignore[attr-defined]
        for j in jobs
    ]
    return float(np.mean(diffs))


def test_two_sim_judges_disagree_with_cis_containing_the_truth(
    sweep_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out = _cli(capsys, "rescore", sweep_dir, "judge.model=glm5")
    assert rc == 0 and "agreement glm5-r2 vs default over 64 run steps / 16 tasks" in out
    ag = agree(sweep_dir, "default", "glm5-r2", resamples=500)
    assert (ag.n, ag.tasks, ag.left_out_failed, ag.left_out_unscored) == (64, 16, 0, 0)
    alpha = ag.get("alpha (ordinal)", "all dimensions")
    assert alpha.value < 1 and alpha.hi < 1 and ag.sim
    assert any(ag.get("weighted kappa", d).value < 1 for d in ("accuracy", "coherence"))
    md = ag.get("mean difference (B-A)", "Q")
    truth = _expected_glm5_dq(sweep_dir)
    assert md.lo <= truth <= md.hi, (md, truth)
    assert truth > 0  # glm5's sim profile is lenient (leniency 0.2)

    rc, out = _cli(capsys, "agree", sweep_dir, "default", "glm5-r2", "--json", "--resamples", "50")
    doc = json.loads(out)
    assert rc == 0 and doc["n"] == 64 and doc["sim"] is True and doc["bootstrap"]["over"] == "tasks"
    rc, out = _cli(capsys, "agree", sweep_dir, "default", "nope")
    assert rc == 2 and "no score set 'nope' in these results; available: default, glm5-r2" in out


def test_probes_land_as_score_sets_and_in_the_report(
    sweep_dir: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out = _cli(capsys, "probe", sweep_dir, "--kind", "truncate", "--sample", "32")
    assert rc == 0 and "PASS: completeness must drop" in out, out
    rc, out = _cli(capsys, "probe", sweep_dir, "--kind", "pad", "--sample", "32")
    assert rc == 0 and "PASS: |dQ| < 0.0312" in out  # the reference sim judge ignores length
    rc, out = _cli(
        capsys, "probe", sweep_dir, "--kind", "pad", "--sample", "32", "judge.model=glm5"
    )
    assert rc == 0 and "FAIL: |dQ| < 0.0312" in out  # glm5's sim profile rewards length
    rc, out = _cli(capsys, "probe", sweep_dir, "--kind", "nope")
    assert rc == 2 and "--kind 'nope' is not a probe; valid: pad, shuffle, anonymise" in out

    sql = "SELECT score_set, count(*) AS n FROM scores GROUP BY 1 ORDER BY 1"
    rc = main(["query", sweep_dir, sql, "--format", "json"])
    cap = capsys.readouterr()
    assert "sim" in cap.err  # the sim notice goes to stderr, the JSON stays parseable
    assert rc == 0 and json.loads(cap.out) == [
        {"score_set": "probe-base-glm5-r2", "n": 32},
        {"score_set": "probe-base-qwen3_235b-r2", "n": 32},
        {"score_set": "probe-pad-glm5-r2", "n": 32},
        {"score_set": "probe-pad-qwen3_235b-r2", "n": 32},
        {"score_set": "probe-truncate-qwen3_235b-r2", "n": 32},
    ]
    rc, out = _cli(capsys, "report", sweep_dir)
    md = (Path(sweep_dir) / "report" / "report.md").read_text()
    assert rc == 0 and "## Judge reliability" in md and "### Bias probes" in md
    rows = [line for line in md.splitlines() if line.startswith("| pad |")]
    assert [r.split(" | ")[-2] for r in rows] == ["fail", "pass"]
    assert "| truncate | probe-truncate-qwen3_235b-r2 | 32 |" in md


def test_blinded_export_round_trips_through_import(
    sweep_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "rate.csv"
    rc, out = _cli(capsys, "scores", "export", sweep_dir, "--out", str(sheet), "--sample", "20")
    assert rc == 0 and out == f"wrote 20 blinded deliverables to rate to {sheet}\n"
    df = pl.read_csv(sheet)
    assert df.columns == [
        "episode_id", "step", "mission", "task", "deliverable", "accuracy", "completeness",
        "coherence", "actionability", "mission_relevance", "rater",
    ]  # fmt: skip
    assert not df["deliverable"].str.contains(r"\(agent \d+\)").any()
    filled = df.with_columns(pl.lit(3).alias(d) for d in df.columns[5:10]).with_columns(
        rater=pl.lit("ann")
    )
    filled.write_csv(sheet)
    rc, out = _cli(capsys, "scores", "import", sweep_dir, str(sheet), "--name", "humans")
    assert rc == 0 and "score set humans: 20 rows imported" in out
    ag = agree(sweep_dir, "humans", "default", resamples=20)
    assert ag.n == 20 and ag.left_out_unscored == 44
