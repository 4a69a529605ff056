"""The ``paper`` preset plans the study's design at about 25,000 task runs."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

import conf
from sweep.cli import main
from sweep.config import SweepConfig, build, compose
from sweep.plan import plan
from sweep.spec import SHOCK_KINDS

PAPER = Path(conf.__file__).parent / "sweep" / "paper.yaml"


@pytest.fixture(scope="module")
def paper() -> SweepConfig:
    return build(compose(["sweep=paper"]))[0]


def test_plan_json_totals_25000_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "sweep=paper", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert abs(s["total_runs"] - 25_000) <= 500, s["total_runs"]
    # The one warning: the judge's family (qwen) plays the swap_model shock (issue 13).
    assert [w.split(":")[0] for w in s["warnings"]] == ["block 's2_shocks'"]
    assert "'qwen25_7b' shares the judge's family (qwen)" in s["warnings"][0]
    assert s["skipped"] == {} and s["duplicates_removed"] == 0
    assert s["judge_calls"] == s["total_runs"]


def test_the_study_design(paper: SweepConfig) -> None:
    specs = plan(paper).specs
    runs = Counter[str]()
    for s in specs:
        runs[s.block] += s.steps
    assert sum(runs.values()) == 25_000
    assert runs["s3_b1_scaling"] == 6_000  # Table VI
    assert runs["s1_mean_field_sparse_graph"] + runs["s1_spectral_hierarchy"] == 660  # Series 1
    assert sum(v for k, v in runs.items() if k.startswith("s2_")) == pytest.approx(8_020, abs=50)
    protocols = {s.protocol for s in specs}
    assert protocols == {
        "coordinator", "sequential", "broadcast", "shared",
        "ripple", "stigmergic", "morphogenetic", "clonal",
    }  # fmt: skip
    assert {s.n_agents for s in specs} == {4, 8, 16, 32, 64, 96, 128, 256}
    assert {s.level for s in specs} == {"L1", "L2", "L3", "L4"}
    assert {s.roles for s in specs} == {"free", "fixed"}
    shocks = [s.shock for s in specs if s.shock is not None]
    assert {sh.kind for sh in shocks} == set(SHOCK_KINDS)
    assert all(s.steps > sh.at_step >= 1 for s in specs if (sh := s.shock) is not None)
    # Open weights only, and the judge is nobody's agent.
    models = {s.model.name for s in specs}
    assert not any(paper.models[m].hosted for m in models)
    assert paper.judge.model.name not in models
    # Large organisations run one task per episode (the sim must run the whole sweep here).
    assert all(s.steps == 1 for s in specs if s.n_agents >= 64)
    assert sum(s.steps * s.n_agents for s in specs if s.n_agents >= 128) <= 600_000


def test_every_block_says_what_it_feeds() -> None:
    text = PAPER.read_text()
    names = re.findall(r"^  - name: (\S+)\s*#\s*(.+)$", text, re.M)
    blocks = yaml.safe_load(text)["blocks"]
    assert len(names) == len(blocks) == 13
    for name, comment in names:
        assert re.search(r"Table|Fig\.|section", comment), (name, comment)
    assert text.startswith("# The paper preset") and "orgsweep plan sweep=paper" in text
