"""The typed options of every backend (``conf/backend/*.yaml``), parsed once.

``SimOptions`` are the sim's; ``ClientOptions`` configure a client of an OpenAI-compatible
endpoint (``backend=openai``); ``VllmOptions`` are how ``backend=vllm`` deploys the models on Ray
Serve LLM (``ServeOptions``) and how its runners' clients talk to them (a ``ClientOptions``).
Each backend names its type in the registry (``BackendEntry.options``); ``sweep.config.build``
parses the user's options into it once (``parse``), listing every problem at once with its
config key, so ``orgsweep validate`` and ``launch`` report them all before anything starts.
The frozen object then travels in ``BackendConfig`` to every consumer (runner actors included:
it pickles). What the executor learns at run time travels beside it as ``Runtime``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, Self, TypeVar

MODEL_NAME_FROM = ("hf_id", "name")
BALANCE = ("prefix_affinity", "least_in_flight", "round_robin")
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")
# Request fields orgsweep sets itself; ``extra_body`` must not override them.
REQUEST_FIELDS = ("model", "messages", "temperature", "seed", "response_format", *MAX_TOKENS_FIELDS)
ACCELERATORS = ("gpu", "cpu")
GUIDED_BACKENDS = ("auto", "xgrammar", "guidance", "outlines", "lm-format-enforcer")
NO_KEY = "EMPTY"  # what local servers get when ``api_key_env`` is null (vLLM's convention)


class BackendConfigError(ValueError):
    """Bad backend options; ``problems`` lists every one (each names its key)."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class Options(Protocol):
    """A backend's typed options (``BackendEntry.options``): frozen and picklable."""

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> Self: ...

    def problems(self) -> list[str]: ...

    @property
    def prefix_caching(self) -> bool: ...


@dataclass(frozen=True)
class Runtime:
    """What the executor learns at run time, passed to each runner's backend beside (never
    inside) the user's options: how many clients share each endpoint (one per runner actor),
    where a route the driver deployed listens, and the replicas per model the deployment phase
    serves (``backend=vllm``: the clients admit calls for those; sweep/phases.py)."""

    n_clients: int | None = None  # None: the options' own n_clients
    base_url: str | None = None
    served_replicas: Mapping[str, int] = field(default_factory=dict)  # {}: the catalogue's


@dataclass(frozen=True)
class SimOptions:
    """The sim's options (comments in conf/backend/sim.yaml)."""

    simulate_latency: bool = False
    invalid_output_rate: float = 0.0

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> Self:
        return parse(cls, options)

    @property
    def prefix_caching(self) -> bool:
        return True  # what backend=vllm would do by default (the plan's cost estimate)

    def problems(self) -> list[str]:
        p: list[str] = []
        if not isinstance(self.simulate_latency, bool):
            p.append(f"backend.simulate_latency={self.simulate_latency!r}: must be true or false")
        rate = self.invalid_output_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            p.append(f"backend.invalid_output_rate={rate!r}: must be a number in 0..1")
        return p


@dataclass(frozen=True)
class ClientOptions:
    """A client of one or more OpenAI-compatible endpoints (comments in openai.yaml)."""

    base_url: str | list[str] | tuple[str, ...] = "http://127.0.0.1:8000/v1"
    api_key_env: str | None = "OPENAI_API_KEY"
    timeout_s: float = 120.0
    max_response_bytes: int = 8 * 1024**2
    max_retries: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    structured_output: bool = True
    strict_schema: bool = True
    model_name_from: str = "hf_id"
    balance: str = "prefix_affinity"
    max_in_flight: int | None = None
    admission_headroom: float = 0.25
    replicas: int | None = None
    n_clients: int = 1
    max_tokens_field: str = "max_tokens"
    extra_body: Mapping[str, Any] | None = None

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> Self:
        return parse(cls, options)

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.base_url,) if isinstance(self.base_url, str) else tuple(self.base_url)

    @property
    def prefix_caching(self) -> bool:
        return True  # the server's own setting; assumed on (the plan's cost estimate)

    def api_key(self) -> str:
        """The key from the variable ``api_key_env`` names (``NO_KEY`` when it is null), read
        where the client runs; ``BackendConfigError`` when that variable is not set there."""
        if self.api_key_env is None:
            return NO_KEY
        if problem := self._key_problem():
            raise BackendConfigError([problem])
        return os.environ[self.api_key_env]

    def _key_problem(self) -> str | None:
        env = self.api_key_env
        if env is None or os.environ.get(env):
            return None
        return (
            f"backend.api_key_env={env}: the environment variable {env} is not set; export "
            "it (the key is read from there and never stored), or set "
            "backend.api_key_env=null for a local server that needs no key"
        )

    def in_flight_bound(self, replicas: int, max_num_seqs: int) -> float:
        """Requests all clients together keep in flight to one endpoint for a model served by
        ``replicas`` x ``max_num_seqs``: ``max_in_flight``, or that capacity plus
        ``admission_headroom``, so a short queue at the engine covers a client's turnaround
        and a finished sequence's slot is refilled at once (BENCHMARKS.md, saturation)."""
        if self.max_in_flight:
            return float(self.max_in_flight)
        return (self.replicas or replicas) * max_num_seqs * (1.0 + self.admission_headroom)

    def problems(self) -> list[str]:
        p: list[str] = []
        if not self.urls:
            p.append("backend.base_url: give one URL or a list of URLs")
        for u in self.urls:
            if not isinstance(u, str) or not u.startswith(("http://", "https://")):
                p.append(f"backend.base_url={u!r}: must start with http:// or https://")
        if missing := self._key_problem():
            p.append(missing)
        for key in ("timeout_s", "backoff_s", "backoff_max_s", "admission_headroom"):
            _number(p, key, getattr(self, key), 0)
        for key, low in (("max_retries", 0), ("n_clients", 1), ("max_response_bytes", 1024)):
            _whole(p, key, getattr(self, key), low)
        for key in ("max_in_flight", "replicas"):
            _whole(p, key, getattr(self, key), 1, optional=True)
        _choice(p, "model_name_from", self.model_name_from, MODEL_NAME_FROM)
        _choice(p, "balance", self.balance, BALANCE)
        _choice(p, "max_tokens_field", self.max_tokens_field, MAX_TOKENS_FIELDS)
        if self.extra_body is not None and not isinstance(self.extra_body, Mapping):
            p.append(f"backend.extra_body={self.extra_body!r}: must be a mapping or null")
        elif clash := sorted(set(self.extra_body or {}) & set(REQUEST_FIELDS)):
            p.append(
                f"backend.extra_body: {', '.join(clash)}: set by orgsweep (agent.*, judge.*, "
                "conf/model), not here"
            )
        return p


@dataclass(frozen=True)
class ServeOptions:
    """How ``backend=vllm`` serves the models (comments in vllm.yaml)."""

    accelerator: str = "gpu"
    accelerator_type: str | None = None
    cpus_per_worker: float = 1.0
    min_replicas: int | None = None
    max_replicas: int | None = None
    enable_prefix_caching: bool = True
    prefix_affinity: bool = True
    guided_decoding_backend: str = "auto"
    engine_kwargs: Mapping[str, Any] = field(default_factory=dict)
    runtime_env: Mapping[str, Any] = field(default_factory=dict)
    app_name: str = "orgsweep"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    startup_timeout_s: float = 1800.0
    keep_serving: bool = False

    def problems(self) -> list[str]:
        p: list[str] = []
        _choice(p, "accelerator", self.accelerator, ACCELERATORS)
        if self.accelerator == "cpu" and self.accelerator_type:
            p.append(f"backend.accelerator_type={self.accelerator_type!r} needs accelerator=gpu")
        _choice(p, "guided_decoding_backend", self.guided_decoding_backend, GUIDED_BACKENDS)
        _number(p, "cpus_per_worker", self.cpus_per_worker, 0)
        _number(p, "startup_timeout_s", self.startup_timeout_s, 0)
        _whole(p, "http_port", self.http_port, 1)
        for key in ("min_replicas", "max_replicas"):
            _whole(p, key, getattr(self, key), 1, optional=True)
        if (self.min_replicas or 0) > (self.max_replicas or 10**9):
            p.append("backend.min_replicas must not exceed backend.max_replicas")
        forbidden = sorted({"model", "served_model_name"} & set(self.engine_kwargs))
        if forbidden:
            p.append(
                f"backend.engine_kwargs: {', '.join(forbidden)}: set by orgsweep from conf/model"
            )
        return p


# Options of each vllm runner's client (the rest of ClientOptions is fixed for a Serve app).
CLIENT_KEYS = frozenset(
    {
        "timeout_s",
        "max_response_bytes",
        "max_retries",
        "structured_output",
        "backoff_s",
        "backoff_max_s",
        "max_in_flight",
        "admission_headroom",
        "n_clients",
        "extra_body",
    }
)


@dataclass(frozen=True)
class VllmOptions:
    """``backend=vllm``: how the driver serves the models, and each runner's client of the
    app's route (its ``base_url`` comes at run time: ``Runtime``). Comments in vllm.yaml."""

    serve: ServeOptions = field(default_factory=ServeOptions)
    client: ClientOptions = field(
        default_factory=lambda: ClientOptions(api_key_env=None, model_name_from="name")
    )

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> Self:
        """The flat keys of vllm.yaml: ``CLIENT_KEYS`` configure the client, the rest serving;
        ``base_url`` is the driver's (null in the config)."""
        problems: list[str] = []
        if options.get("base_url") is not None:
            problems.append(
                f"backend.base_url={options['base_url']!r}: backend=vllm sets it from the app it "
                "deploys (serve_models); leave it null, or use backend=openai for a server of "
                "your own"
            )
        client = {k: v for k, v in options.items() if k in CLIENT_KEYS}
        fixed = {"api_key_env": None, "model_name_from": "name"}  # no key; registry names
        parsed: list[Any] = []
        for part, opts, ignore in (
            (ServeOptions, options, CLIENT_KEYS | {"base_url"}),
            (ClientOptions, {**fixed, **client}, frozenset()),
        ):
            try:
                parsed.append(parse(part, opts, ignore))
            except BackendConfigError as e:
                problems += e.problems
        if problems:
            raise BackendConfigError(problems)
        return cls(*parsed)

    @property
    def prefix_caching(self) -> bool:
        return self.serve.enable_prefix_caching

    def problems(self) -> list[str]:
        return self.serve.problems() + self.client.problems()


class _Checked(Protocol):
    def problems(self) -> list[str]: ...


T = TypeVar("T", bound=_Checked)


def parse(cls: type[T], options: Mapping[str, Any], ignore: frozenset[str] = frozenset()) -> T:
    """``cls`` from the options it knows (``ignore``: keys another part handles)."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - known - ignore)
    if unknown:
        valid = ", ".join(sorted(known | ignore))
        raise BackendConfigError([f"backend: unknown key(s) {', '.join(unknown)}; valid: {valid}"])
    obj = cls(**{k: v for k, v in options.items() if k in known})
    if problems := obj.problems():
        raise BackendConfigError(problems)
    return obj


def _number(p: list[str], key: str, value: Any, low: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        p.append(f"backend.{key}={value!r}: must be a number >= {low}")


def _whole(p: list[str], key: str, value: Any, low: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        tail = " or null" if optional else ""
        p.append(f"backend.{key}={value!r}: must be a whole number >= {low}{tail}")


def _choice(p: list[str], key: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        p.append(f"backend.{key}={value!r}; valid: {', '.join(valid)}")
