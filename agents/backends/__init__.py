"""Backend registry: name -> what the backend is and how to build it. Optional packages are
imported only when a backend's module is.

A factory takes the backend's config options as keyword arguments and returns an object with
``async chat(ChatRequest) -> ChatResponse`` and ``async aclose()``. Each entry also declares the
backend's traits, so that ``sweep/`` never names a backend: whether it is synthetic (no engine:
the sim), and which functions of its module the executor calls (``BackendEntry``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from agents.backends.chat import Backend, SetupError


@dataclass(frozen=True)
class BackendEntry:
    module: str
    cls: str  # the factory
    extra: str  # the pip extra that provides its packages
    synthetic: bool = False  # no engine (the sim): its numbers are not evidence about LLMs
    # Functions of ``module`` the executor calls, when the backend has them:
    # engine_slots(models, options) -> requests the engines can hold (runner sizing);
    # prepare_runners(specs, options, runners, recount) -> RunnerSetup (agents.backends.setup).
    engine_slots: str | None = None
    prepare_runners: str | None = None
    # The launch checks before dispatch that its endpoints list every model (sweep.preflight);
    # a backend that serves its own models checks that itself.
    preflight: bool = False
    # It deploys the models itself (prepare_runners serves them): the executor follows the
    # deployment schedule's phases and replicas (sweep.phases) for it.
    serves_models: bool = False

    @property
    def engine(self) -> str:
        """The ``engine`` field of the episode identity (sweep.spec): sim results never mix
        with those of a real engine, whichever route serves it."""
        return "sim" if self.synthetic else "llm"


_ENTRIES: Mapping[str, BackendEntry] = MappingProxyType(
    {
        "sim": BackendEntry("agents.backends.sim", "SimBackend", "", synthetic=True),
        "openai": BackendEntry(
            "agents.backends.openai",
            "OpenAIBackend",
            "openai",
            engine_slots="engine_slots",
            prepare_runners="prepare_runners",
            preflight=True,
        ),
        "vllm": BackendEntry(
            "agents.backends.vllm",
            "VllmBackend",
            "vllm",
            engine_slots="engine_slots",
            prepare_runners="prepare_runners",
            serves_models=True,
        ),
    }
)
BACKENDS = tuple(_ENTRIES)


def backend_entry(name: str) -> BackendEntry:
    try:
        return _ENTRIES[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r}; valid: {', '.join(BACKENDS)}") from None


def _module(name: str) -> Any:
    entry = backend_entry(name)
    try:
        return importlib.import_module(entry.module)
    except ImportError as e:
        raise BackendUnavailable(
            f"backend {name!r} needs packages that are not installed ({e.name}); "
            f"install them with: pip install 'orgsweep[{entry.extra}]'"
        ) from None


def backend_hook(name: str, trait: str) -> Callable[..., Any] | None:
    """The function a backend declares for ``trait`` (``engine_slots``, ``prepare_runners``),
    or None when it declares none."""
    attr = getattr(backend_entry(name), trait)
    return None if attr is None else getattr(_module(name), attr)


class BackendUnavailable(SetupError):
    """The backend's optional packages are not installed."""


def backend_factory(name: str) -> Callable[..., Backend]:
    factory: Callable[..., Backend] = getattr(_module(name), backend_entry(name).cls)
    return factory


def make_backend(name: str, options: Mapping[str, Any]) -> Backend:
    return backend_factory(name)(**dict(options))


def check_options(name: str, options: Mapping[str, Any]) -> list[str]:
    """Every problem with a backend's options (empty when valid), without building it: for the
    driver and ``orgsweep validate``, before runner actors would fail one by one."""
    try:
        factory = backend_factory(name)
    except (KeyError, BackendUnavailable) as e:
        return [str(e).strip("'\"")]
    check = getattr(importlib.import_module(_ENTRIES[name].module), "check_options", None)
    if check is not None:
        return list(check(options))
    params = inspect.signature(factory).parameters
    unknown = sorted(set(options) - set(params))
    if unknown:
        return [f"backend: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(params))}"]
    return []
