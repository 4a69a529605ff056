"""The judge as its own pass (``cost.judge=deferred``, sweep/judge_pass.py): ``backend=vllm``
with Serve stood in for by a fake OpenAI-compatible server, on a local Ray."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer  # tests/ is on sys.path

from agents.backends import vllm as vllm_backend
from sweep.results.schema import SCORE_COLUMNS

# the judge's columns, its accounting part and the totals, and an agent column
COMPARED = [*SCORE_COLUMNS, "judge_gpu_s", "gpu_s", "cost_usd", "prompt_tokens"]
KEY = ["episode_id", "step"]


class _Deployments:
    """Stands in for ``serve_models``: records what each phase deploys, one at a time."""

    def __init__(self) -> None:
        self.deployed: list[set[str]] = []
        self.live: list[str] = []
        self.url = ""

    def serve(self, models: Any, options: Any) -> Any:
        assert not self.live, "a phase was deployed before the last was released"
        names = tuple(m.name for m in models)
        self.deployed.append(set(names))
        self.live.append(",".join(names))
        return _Serving(self, names)


class _Serving:
    def __init__(self, d: _Deployments, models: tuple[str, ...]):
        self.d, self.models, self.base_url = d, models, d.url

    def shutdown(self) -> None:
        self.d.live.remove(",".join(self.models))


def _launch(res: str, judge: str, d: _Deployments, monkeypatch: Any, *extra: str) -> int:
    from sweep.cli import main

    monkeypatch.setattr(vllm_backend, "serve_models", d.serve)
    args = [
        "backend=vllm",
        "allow_unpinned=true",
        "sweep.limit=3",
        "cluster.gpus_by_type={H100:16,H200:16}",
        f"cost.judge={judge}",
        f"results_dir={res}",
        *extra,
    ]
    with FakeOpenAIServer() as srv:
        d.url = srv.url
        return main(["launch", *args, "--no-progress"])


@pytest.mark.integration
def test_a_deferred_judge_runs_last_alone_and_reads_like_an_inline_one(
    ray_local: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from analysis import load
    from sweep.config import build, compose

    judge = build(compose(["backend=vllm"]))[0].judge.model.name
    deferred, inline = _Deployments(), _Deployments()
    rd, ri = str(tmp_path / "deferred"), str(tmp_path / "inline")
    assert _launch(rd, "deferred", deferred, monkeypatch) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "judge pass: " in out and " run steps judged" in out, out
    assert _launch(ri, "inline", inline, monkeypatch) == 0, capsys.readouterr().out
    # The judge is deployed in the last phase only, and alone there; inline, in every phase.
    assert len(deferred.deployed) >= 2 and deferred.deployed[-1] == {judge}
    assert all(judge not in d for d in deferred.deployed[:-1])
    assert all(judge in d for d in inline.deployed) and not deferred.live
    a = load(rd).runs.collect().sort(KEY)
    b = load(ri).runs.collect().sort(KEY)
    assert a.columns == b.columns and a.height == b.height > 0
    assert a["judge_deferred"].to_list() == [True] * a.height
    assert b["judge_deferred"].to_list() == [False] * b.height
    assert a["quality"].null_count() == 0
    assert a.select(*KEY, *COMPARED).equals(b.select(*KEY, *COMPARED))
    # The primary set is not listed as another judge's set, and status has nothing waiting.
    from rich.console import Console

    from sweep.status import status

    assert status(rd, Console(file=None, width=200))["awaiting_judge"] == 0


@pytest.mark.integration
def test_a_launch_interrupted_in_the_judge_pass_judges_the_rest_next_time(
    ray_local: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from analysis import load
    from sweep import rescore
    from sweep.status import status

    res = str(tmp_path / "r")
    calls = {"n": 0}
    judge_once = rescore._judge_with_retries

    async def interrupted(*a: Any, **k: Any) -> Any:  # Ctrl-C during the third judge call
        verdict = await judge_once(*a, **k)
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt
        return verdict

    monkeypatch.setattr(rescore, "_judge_with_retries", interrupted)
    first = _Deployments()
    rc = _launch(res, "deferred", first, monkeypatch, "cluster.flush_rows=1")
    assert rc == 130, capsys.readouterr().out
    runs = load(res).runs.collect()
    steps = runs.height
    assert runs["quality"].null_count() == steps - 2  # two were judged and committed
    from rich.console import Console

    assert status(res, Console(width=200))["awaiting_judge"] == steps - 2
    committed = runs.select("episode_id", "attempt", "batch").unique().sort("episode_id")
    monkeypatch.setattr(rescore, "_judge_with_retries", judge_once)
    again = _Deployments()
    assert _launch(res, "deferred", again, monkeypatch) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert f"judge pass: {steps - 2} run steps await the judge" in out, out
    # Only the judge was deployed: no agent episode ran again.
    judge = load(res).runs.collect()["judge_model"][0]
    assert again.deployed == [{judge}]
    after = load(res).runs.collect()
    assert (
        after.select("episode_id", "attempt", "batch").unique().sort("episode_id").equals(committed)
    )
    assert after["quality"].null_count() == 0 and after.height == steps
    assert status(res, Console(width=200))["awaiting_judge"] == 0
