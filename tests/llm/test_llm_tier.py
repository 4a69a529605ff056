"""The `llm` tier: a small sweep end to end with a real model (SmolLM2-135M-Instruct) on CPU.

Both serving paths run the same 4-episode sweep (four paper protocols, N=3, L1, judged by the
same model) through ``orgsweep launch``:

- ``backend=openai`` against vLLM's OpenAI-compatible server started on 127.0.0.1;
- ``backend=vllm backend.accelerator=cpu``: orgsweep deploys the model on Ray Serve LLM itself.

The assertions are about behaviour, not about the (weak) model's answers: guided decoding gives
parseable agent JSON, roles and contributions reach the ``agents``/``transcripts`` tables, token
counts are the server's, judge scores are in range. Setup and the one command::

    .ci/install-llm .venv && .venv/bin/pytest -q -m llm --run-llm tests/llm/test_llm_tier.py

About 10-12 min on 2 cores (each path: ~1.5-2 min to start the engine, ~3-4 min of sweep).
Never run two of these at once on a 2-core machine. ``ORGSWEEP_CACHE`` keeps the converted
model (default ``~/.cache/orgsweep``).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from analysis import load
from llm.models import default_cache, smollm2_dir  # tests/llm (tests/ is on sys.path)
from llm.server import free_port, start_vllm_server
from sweep.cli import main
from sweep.config import build, compose
from sweep.plan import plan

pytestmark = [
    pytest.mark.llm,
    # ray.serve's own pydantic models, at import (ray 2.60): not ours to fix
    pytest.mark.filterwarnings("ignore:Using extra keyword arguments on `Field`"),
]

MODEL = "smollm2_135m"  # a model defined on the command line, outside the catalogue
PROTOCOLS = ("sequential", "coordinator", "broadcast", "shared")
MAX_MODEL_LEN = 4096  # SmolLM2 supports 8192; agent prompts ~0.5k tokens, judge ~1-2k
BLOCK = (
    "sweep.blocks=[{name:llm,models:[" + MODEL + "],protocols:[" + ",".join(PROTOCOLS) + "],"
    "n_agents:[3],roles:[free],levels:[L1],tasks_per_cell:1,seeds:[0],steps:1}]"
)


def sweep_overrides(model_dir: Path, results_dir: Path) -> list[str]:
    """The sweep both paths run; only the backend keys differ."""
    return [
        f"+models.{MODEL}={{hf_id:'{model_dir}',max_model_len:{MAX_MODEL_LEN},"
        "max_num_seqs:8,replicas:1}",
        "sweep.name=llm_tier",
        BLOCK,
        f"judge.model={MODEL}",  # one engine serves agents and judge (warns: self-judging)
        "judge.max_tokens=256",
        "judge.max_deliverable_tokens=1500",
        "agent.max_tokens=512",
        # SmolLM2 loops inside JSON strings and lists without a penalty (with the schema's
        # maxLength/maxItems as the backstop)
        "backend.extra_body={frequency_penalty:0.5}",
        "store_prompts=true",
        f"results_dir={results_dir}",
    ]


# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2() -> Path:
    """The converted SmolLM2 directory (built once per cache, ~1 min)."""
    try:
        return smollm2_dir(default_cache())
    except FileNotFoundError as e:  # --run-llm asked for this tier: fail, do not skip
        pytest.fail(f"{e}; set up the tier with: .ci/install-llm .venv", pytrace=False)


@pytest.fixture
def llm_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Environment for vLLM and a private local Ray; afterwards Serve and Ray are stopped."""
    import ray

    if ray.is_initialized():  # e.g. the session's default-tier Ray: ours needs other CPUs
        ray.shutdown()
    ray_tmp = tempfile.mkdtemp(prefix="olt", dir="/tmp")  # short: Unix socket paths
    for var, value in {
        "RAY_TMPDIR": ray_tmp,
        "VLLM_CPU_KVCACHE_SPACE": "1",  # GiB; inherited by Ray's workers (the Serve engine)
        "VLLM_NO_USAGE_STATS": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }.items():
        monkeypatch.setenv(var, value)
    try:
        yield
    finally:
        if ray.is_initialized():  # launch stops the Ray it started; this is for failures
            from ray import serve

            with contextlib.suppress(Exception):
                serve.shutdown()
            ray.shutdown()
        shutil.rmtree(ray_tmp, ignore_errors=True)


def report(capsys: pytest.CaptureFixture[str], label: str, facts: dict[str, Any]) -> None:
    """One line per path in the test log (the numbers the tier is judged by)."""
    with capsys.disabled():
        print(f"\n[llm tier] {label}: " + ", ".join(f"{k}={v}" for k, v in facts.items()))


# ---- what both paths must show ----------------------------------------------------------------


def check_results(results_dir: Path, backend: str, model_dir: Path) -> dict[str, Any]:
    """Assert the behaviour of a finished sweep; returns the numbers for the report."""
    r = load(str(results_dir))
    runs = r.runs.collect()
    agents = r.agents.collect()
    transcripts = r.transcripts.collect()

    assert runs.height == len(PROTOCOLS)
    assert set(runs["protocol"]) == set(PROTOCOLS)
    failed = runs.filter(pl.col("status") != "ok")
    assert failed.is_empty(), failed.select("protocol", "error_kind", "error").to_dicts()
    assert set(runs["backend"]) == {backend}
    assert set(runs["model"]) == {MODEL} and set(runs["model_id"]) == {str(model_dir)}

    # Guided decoding: agent JSON parses; a bad reply gets its one repair before it counts.
    calls, parse_errors = int(runs["llm_calls"].sum()), int(runs["n_parse_errors"].sum())
    assert calls >= 3 * len(PROTOCOLS)
    assert parse_errors <= calls // 4, f"{parse_errors} parse errors in {calls} calls"
    bad = agents.filter(pl.col("parse_error"))
    assert (bad["repairs"] >= 1).all(), bad.to_dicts()
    per_episode = agents.group_by("episode_id").agg(pl.col("repairs").sum().alias("agent_repairs"))
    joined = runs.join(per_episode, on="episode_id")
    assert (joined["repair_calls"] == joined["agent_repairs"]).all()

    # Roles and contributions: one agents row per worker (plus the coordinator), turns stored.
    workers = agents.filter(pl.col("agent") >= 0)
    assert workers.height == 3 * len(PROTOCOLS)
    assert (workers.filter(pl.col("calls") > 0)["role"].str.len_chars() > 0).mean() >= 0.75
    assert agents.filter(pl.col("agent") == -1).height == 1  # the coordinator's record
    speaking = workers.filter(pl.col("participate"))
    assert speaking.height >= 1 and (speaking["contribution_chars"] > 0).all()
    turns = transcripts.filter(pl.col("kind") == "turn")
    assert turns.height == workers.filter(pl.col("calls") > 0).height
    spoken = turns.filter(pl.col("participate"))
    assert (spoken["text"].str.len_chars() > 0).all() and (spoken["role"] != "").all()
    assert transcripts.filter(pl.col("kind") == "deliverable").height == len(PROTOCOLS)
    assert transcripts.filter(pl.col("kind") == "intention").height == 3  # broadcast round 1

    # Tokens are the server's usage, not orgsweep's estimate (exact match on one prompt).
    for col in ("prompt_tokens", "completion_tokens", "judge_prompt_tokens"):
        assert (runs[col] > 0).all(), col
    assert (workers.filter(pl.col("calls") > 0)["prompt_tokens"] > 0).all()
    assert_server_token_count(agents, transcripts, model_dir)

    # The judge: scores 1..4 where it did not fail, Q and M from them.
    judged = runs.filter(~pl.col("judge_failed"))
    assert judged.height >= len(PROTOCOLS) // 2, runs.select("protocol", "judge_failed")
    dims = ["accuracy", "completeness", "coherence", "actionability", "mission_score"]
    for d in dims:
        assert judged[d].is_between(1, 4).all(), d
    q = judged["accuracy"] + judged["completeness"] + judged["coherence"]
    q = (q + judged["actionability"]).cast(pl.Float64) / 16
    assert (q - judged["quality"]).abs().max() < 1e-9
    assert (runs["judge_calls"] >= 1).all()

    return {
        "calls": calls,
        "repairs": int(runs["repair_calls"].sum()),
        "parse_errors": parse_errors,
        "judge_failed": int(runs["judge_failed"].sum()),
        "judge_calls": int(runs["judge_calls"].sum()),
        "prompt_tokens": int(runs["prompt_tokens"].sum()),
        "completion_tokens": int(runs["completion_tokens"].sum()),
        "judge_tokens": int((runs["judge_prompt_tokens"] + runs["judge_completion_tokens"]).sum()),
        "participating": int(speaking.height),
        "episode_wall_s_max": round(float(runs["wall_s"].max()), 1),
    }


def assert_server_token_count(agents: pl.DataFrame, transcripts: pl.DataFrame, mdir: Path) -> None:
    """An agent with exactly one call: its prompt_tokens equal the chat template's token count
    of its stored prompt (system and user message, joined by a blank line)."""
    from transformers import AutoTokenizer

    single = agents.filter(
        (pl.col("calls") == 1) & (pl.col("repairs") == 0) & (pl.col("agent") >= 0)
    )
    row = single.join(
        transcripts.filter(pl.col("kind") == "turn"), on=["episode_id", "agent"], how="inner"
    ).row(0, named=True)
    system, user = row["prompt"].split("\n\n", 1)
    tok = AutoTokenizer.from_pretrained(str(mdir))
    ids = tok.apply_chat_template(
        [{"role": "system", "content": system}, {"role": "user", "content": user}],
        add_generation_prompt=True,
        tokenize=True,
    )
    ids = ids["input_ids"] if not isinstance(ids, list) else ids
    assert row["prompt_tokens"] == len(ids)


def launch(args: list[str]) -> float:
    t0 = time.monotonic()
    assert main(["launch", "--no-progress", *args]) == 0
    return round(time.monotonic() - t0, 1)


# ---- the two paths ----------------------------------------------------------------------------


def test_sweep_through_openai_compatible_vllm_server(
    smollm2: Path, llm_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import ray

    # Ray first, while the machine is quiet: a raylet that cannot register within Ray's fixed
    # 30 s (2 busy cores) fails ray.init; launch then uses this instance (llm_env stops it).
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    results = tmp_path / "results"
    with start_vllm_server(
        smollm2, MODEL, max_model_len=MAX_MODEL_LEN, log_path=tmp_path / "server.log"
    ) as srv:
        args = [
            *sweep_overrides(smollm2, results),
            "backend=openai",
            f"backend.base_url={srv.base_url}",
            "backend.api_key_env=null",
            "backend.model_name_from=name",  # served as --served-model-name smollm2_135m
            "backend.timeout_s=600",
        ]
        wall = launch(args)
        assert "4 to run" in capsys.readouterr().out
        launch(args)  # resume: everything is committed, nothing is sent to the server
        assert "0 to run" in capsys.readouterr().out
    assert not srv.alive()
    facts = check_results(results, "openai", smollm2)
    report(capsys, "openai", {"server_start_s": round(srv.startup_s, 1), "sweep_s": wall, **facts})


def test_sweep_through_ray_serve_llm_on_cpu(
    smollm2: Path,
    llm_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import ray

    from agents.backends import vllm

    deployed: dict[str, Any] = {}
    serve_models = vllm.serve_models

    def timed_serve_models(models: Any, options: Any) -> Any:  # a spy: the real deployment
        t0 = time.monotonic()
        handle = serve_models(models, options)
        deployed.update(seconds=round(time.monotonic() - t0, 1), models=handle.models)
        return handle

    monkeypatch.setattr(vllm, "serve_models", timed_serve_models)
    results = tmp_path / "results"
    common = sweep_overrides(smollm2, results)
    wall = launch(
        [
            *common,
            "backend=vllm",
            "backend.accelerator=cpu",
            "++backend.engine_kwargs={enforce_eager:true,dtype:float32}",
            f"backend.http_port={free_port()}",
            "backend.app_name=orgsweep-llm-tier",
            "backend.startup_timeout_s=900",
            # Serve LLM on CPU needs ~4+ logical CPUs besides the engine's (FEASIBILITY §3);
            # the runner pool is sized from the CPUs the Serve app leaves free.
            "cluster.num_cpus=8",
        ]
    )
    assert deployed["models"] == (MODEL,)  # agents and judge: one engine
    assert not ray.is_initialized()  # launch stopped the Ray it started, and Serve with it
    facts = check_results(results, "vllm", smollm2)
    # Same model, same sweep: the episode ids do not depend on how the model is served.
    same = build(compose([*common, "backend=openai", "backend.api_key_env=null"]))[0]
    ran = set(load(str(results)).runs.collect()["episode_id"])
    assert ran == {s.episode_id for s in plan(same).specs}
    report(capsys, "vllm", {"serve_start_s": deployed["seconds"], "sweep_s": wall, **facts})


def test_vllm_prefix_cache_counters_for_p1_and_p2(
    smollm2: Path, llm_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The smoke sweep with each prompt layout against one vLLM server with prefix caching on,
    reading vLLM's own counters (bench/vllm_metrics.py) around each. Unverified on this
    project's machines so far (the tier takes ~10 min per path; see BENCHMARKS.md)."""
    import ray

    from bench.vllm_metrics import read

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    counted = {}
    with start_vllm_server(
        smollm2,
        MODEL,
        extra_args=["--enable-prefix-caching"],
        max_model_len=MAX_MODEL_LEN,
        log_path=tmp_path / "server.log",
    ) as srv:
        for version in ("p1", "p2"):
            before = read(srv.root_url)
            launch(
                [
                    *sweep_overrides(smollm2, tmp_path / version),
                    f"prompt_version={version}",
                    "backend=openai",
                    f"backend.base_url={srv.base_url}",
                    "backend.api_key_env=null",
                    "backend.model_name_from=name",
                    "backend.timeout_s=600",
                ]
            )
            counted[version] = read(srv.root_url) - before
    p1, p2 = counted["p1"], counted["p2"]
    assert p1.queries > 0 and p2.queries > 0
    # p2 shares each round's prompt up to the agent's own section; p1 differs at its 7th token
    assert p2.hit_rate > p1.hit_rate
    report(
        capsys,
        "prefix cache",
        {
            f"{v}_{k}": round(getattr(c, k), 3)
            for v, c in counted.items()
            for k in ("queries", "hits", "hit_rate")
        },
    )
