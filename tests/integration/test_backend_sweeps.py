"""Whole sweeps through the OpenAI-compatible backends on a local Ray: ``openai`` against a
faulty server, and ``vllm`` with Serve stood in for (the runner pool fits the CPUs serving
leaves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer, Faults  # tests/ is on sys.path

from agents.backends import vllm as vllm_backend
from agents.backends.vllm import runner_runtime

# ---- a whole sweep against a faulty server --------------------------------------------------


@pytest.mark.integration
def test_sweep_against_a_faulty_server(ray_local: None, tmp_path: Path, capsys: Any) -> None:
    import polars as pl

    from analysis import load
    from sweep.cli import main

    faults = Faults(
        rate_limit=0.05,
        retry_after_s=0.05,
        server_error=0.03,
        unavailable=0.03,
        stall=0.01,
        stall_s=3.0,
        broken=0.08,
        length=0.03,
    )
    every_fault_once = ["429:0.05", "500", "503", "stall", "broken", "length", "nousage"]
    res = str(tmp_path / "r")
    with FakeOpenAIServer(faults=faults, script=every_fault_once, seed=7) as srv:
        rc = main(
            [
                "launch",
                "backend=openai",
                "allow_unpinned=true",  # the fake server serves no weights to pin
                f"backend.base_url={srv.url}",
                "backend.api_key_env=null",
                "backend.timeout_s=1.0",
                "backend.backoff_s=0.01",
                "cluster.retry_backoff_s=0.1",
                "sweep.limit=6",
                f"results_dir={res}",
                "--no-progress",
            ]
        )
        actions = srv.stats.actions
    out = capsys.readouterr().out
    runs = load(res, include_failed=True).runs.collect()
    ok = runs.filter(pl.col("status") == "ok")
    assert ok.height >= 5, runs.select("status", "error_kind", "error")
    assert rc == (0 if ok.height == runs.height else 3), out  # 3: failed episodes remain
    for fault in ("429", "500", "503", "stall", "broken", "length"):
        assert actions[fault] >= 1, actions
    assert ok["repair_calls"].sum() > 0
    assert ok["llm_calls"].sum() > 0 and ok["prompt_tokens"].sum() > 0
    # The fake echoes the model id it was asked for: recorded, no mismatch; only its usage-less
    # replies are flagged as estimated token counts (agents.served).
    assert (ok["served_mismatch"] == 0).all() and (ok["served_model"].str.len_chars() > 0).all()
    estimated = ok["tokens_estimated"].sum() + ok["judge_tokens_estimated"].sum()
    assert estimated <= actions["nousage"] == 1
    # A judge whose reply and repair were both broken is recorded, not retried.
    judged = ok.filter(pl.col("quality").is_not_null())
    assert judged.height >= 4
    assert (ok.filter(pl.col("quality").is_null())["error"].str.len_chars() > 0).all()
    print(f"{sum(actions.values())} requests: {dict(actions)}")
    assert "synthetic backend" not in out  # not the sim backend, though the fake answers as it


# ---- the driver's sizing of the runner pool once the models are served ---------------------


@pytest.mark.integration
def test_runner_pool_fits_the_cpus_serving_leaves(
    ray_local: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Serve's replicas hold logical CPUs of their own; the driver sizes the runner pool from
    the CPUs left after deploying, so every runner starts and the sweep finishes."""
    import ray

    from analysis import load
    from sweep.cli import main

    @ray.remote(num_cpus=3)
    class Replica:  # stands in for an LLM replica holding CPUs
        def ping(self) -> bool:
            return True

    seen: dict[str, Any] = {}

    class Serving:
        def __init__(self, base_url: str, models: tuple[str, ...]):
            self.base_url, self.models = base_url, models

        def shutdown(self) -> None:
            ray.kill(seen.pop("replica"))

    def fake_serve(models: Any, options: Any) -> Serving:
        seen["replica"] = Replica.remote()  # type: ignore[attr-defined]
        ray.get(seen["replica"].ping.remote())
        seen["free_cpus"] = ray.available_resources().get("CPU", 0.0)
        return Serving(srv.url, tuple(m.name for m in models))

    def spy_runner_runtime(handle: Any, n_runners: int = 1, replicas: Any = None) -> Any:
        seen["n_runners"] = n_runners
        return runner_runtime(handle, n_runners, replicas)

    monkeypatch.setattr(vllm_backend, "serve_models", fake_serve)
    monkeypatch.setattr(vllm_backend, "runner_runtime", spy_runner_runtime)
    res = str(tmp_path / "r")
    with FakeOpenAIServer() as srv:
        args = ["backend=vllm", "allow_unpinned=true", "sweep.limit=3", f"results_dir={res}"]
        # judged inline: one deployment, whose runner pool is the one sized here
        rc = main(["launch", *args, "cost.judge=inline", "--no-progress"])
    assert rc == 0, capsys.readouterr().out
    assert "replica" not in seen  # the driver stopped serving at the end
    assert 1 <= seen["n_runners"] == int(seen["free_cpus"]) < int(ray.cluster_resources()["CPU"])
    runs = load(res).runs.collect()
    assert runs.height == 3 and set(runs["status"]) == {"ok"}


@pytest.mark.integration
def test_a_launch_deploys_the_planned_phases_one_after_another(
    ray_local: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """With the cluster's GPUs declared, a vllm launch deploys the planner's phases
    (sweep/phases.py) in order, each with its replicas, releasing one before the next."""
    from analysis import load
    from sweep.cli import main
    from sweep.config import build, compose
    from sweep.plan import plan
    from sweep.plan_cost import executor_phases

    deployed: list[dict[str, int]] = []
    live: list[str] = []

    class Serving:
        def __init__(self, base_url: str, models: tuple[str, ...]):
            self.base_url, self.models = base_url, models

        def shutdown(self) -> None:
            live.remove(",".join(self.models))

    def fake_serve(models: Any, options: Any) -> Serving:
        assert not live, "a phase was deployed before the last was released"
        deployed.append({m.name: m.replicas for m in models})
        live.append(",".join(m.name for m in models))
        return Serving(srv.url, tuple(m.name for m in models))

    monkeypatch.setattr(vllm_backend, "serve_models", fake_serve)
    res = str(tmp_path / "r")
    args = [
        "backend=vllm",
        "allow_unpinned=true",
        "sweep.limit=3",
        "cluster.gpus_by_type={H100:16,H200:16}",
        f"results_dir={res}",
    ]
    cfg = compose(args)
    typed, _ = build(cfg)
    planned = executor_phases(cfg, typed, plan(typed).specs)
    assert planned is not None and len(planned) >= 2
    with FakeOpenAIServer() as srv:
        rc = main(["launch", *args, "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert deployed == [p.replicas_of() for p in planned] and not live
    assert out.count("deployment phase ") == len(planned)
    runs = load(res).runs.collect()
    assert runs.height == 3 and set(runs["status"]) == {"ok"}
