"""Distributed execution on a multi-node Ray cluster on this machine (ray.cluster_utils):
spreading over nodes, placement by model, a node lost mid-sweep, and the driver killed with
SIGKILL and relaunched, each ending with every planned episode committed exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from analysis import load
from sweep.cli import main
from sweep.config import build, compose
from sweep.plan import plan
from sweep.results.store import ResultStore

pytestmark = pytest.mark.integration

MODELS = ("llama31_8b", "mistral_small_24b")
# Slow episodes (simulated decode time) so that there is work in flight to lose.
SLOW = [
    "backend.simulate_latency=true",
    "sweep.blocks.0.n_agents=[4]",
    "sweep.blocks.0.levels=[L1,L3]",
    f"sweep.blocks.0.models=[{','.join(MODELS)}]",
    "sweep.blocks.0.tasks_per_cell=2",
    "cluster.flush_rows=40",
    "cluster.retry_backoff_s=0.2",
    "cluster.episodes_per_runner=4",
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    import ray
    from ray.cluster_utils import Cluster

    ray.shutdown()  # the session's local instance, if any, is restarted by later tests
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for i, model in enumerate(MODELS):
        c.add_node(num_cpus=2, num_gpus=1, resources={f"model:{model}": 1, f"gpu_node_{i}": 1})
    ray.init(address=c.address, log_to_driver=False)
    c.wait_for_nodes()
    yield c
    ray.shutdown()
    c.shutdown()


def _planned(overrides: list[str]) -> set[str]:
    return set(plan(build(compose(overrides))[0]).ids)


def _exactly_once(results: str, planned: set[str]) -> None:
    raw = ResultStore(results).read_table("runs", ["episode_id", "status"])
    ids = pl.from_arrow(raw)["episode_id"]  # type: ignore[index]
    assert ids.n_unique() == ids.len(), "an episode was committed twice"
    assert set(ids) == planned
    res = load(results)
    runs = res.runs.collect()
    assert runs.height == len(planned)
    agents = res.agents.collect()
    assert agents.select("episode_id", "step", "agent").is_duplicated().sum() == 0
    per_episode = agents.group_by("episode_id").len()
    assert per_episode["len"].min() >= 4


def test_sweep_spreads_over_nodes_and_places_by_model(cluster, tmp_path: Path) -> None:
    res = str(tmp_path / "r")
    over = [*SLOW, "backend.simulate_latency=false", "cluster.place_by_model=true"]
    assert main(["launch", f"results_dir={res}", *over, "--no-progress"]) == 0
    runs = load(res).runs.collect()
    assert runs["node"].n_unique() == 2
    # Each model ran only on the node that offers its resource.
    assert runs.group_by("model").agg(pl.col("node").n_unique())["node"].max() == 1
    _exactly_once(res, _planned([*over, f"results_dir={res}"]))


def test_place_by_model_without_resources_is_a_clear_error(cluster, tmp_path: Path, capsys):
    over = ["cluster.place_by_model=true", "sweep.blocks.0.models=[deepseek_v32]"]
    assert main(["launch", f"results_dir={tmp_path}/r", *over, "--no-progress"]) == 2
    assert "model:deepseek_v32" in capsys.readouterr().err


def test_node_lost_mid_sweep(cluster, tmp_path: Path) -> None:
    import ray

    res = str(tmp_path / "r")
    over = [*SLOW, f"results_dir={res}"]
    codes: list[int] = []
    t = threading.Thread(target=lambda: codes.append(main(["launch", *over, "--no-progress"])))
    t.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ResultStore(res).parts("runs"):
        time.sleep(0.2)
    victim = next(n for n in cluster.worker_nodes)  # type: ignore[attr-defined]
    cluster.remove_node(victim)  # type: ignore[attr-defined]
    t.join(timeout=240)
    assert codes == [0]
    _exactly_once(res, _planned(over))
    # Put a node back for the next test.
    cluster.add_node(  # type: ignore[attr-defined]
        num_cpus=2, num_gpus=1, resources={f"model:{MODELS[0]}": 1}
    )
    ray.get(ray.remote(lambda: 1).remote())


def test_driver_sigkilled_and_relaunched(cluster, tmp_path: Path) -> None:
    res = str(tmp_path / "r")
    over = [*SLOW, f"results_dir={res}"]
    env = {**os.environ, "RAY_ADDRESS": cluster.address}  # type: ignore[attr-defined]
    cmd = [sys.executable, "-m", "sweep.cli", "launch", *over, "--no-progress"]
    rng = random.Random(7)
    for _ in range(3):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(4.0, 9.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    _exactly_once(res, _planned(over))
