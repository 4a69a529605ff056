"""Backend registry: name -> what the backend is and how to build it. Optional packages are
imported only when a backend's module is.

Each entry names the backend's typed options (``BackendEntry.options``, a frozen dataclass of
``agents.backends.options``): ``parse_options`` turns the config's ``backend.*`` keys into it once
(``sweep.config.build``), and every consumer takes that object. A factory takes the options and
the executor's ``Runtime`` and returns an object with ``async chat(ChatRequest) -> ChatResponse``
and ``async aclose()``. Each entry also declares the backend's traits, so that ``sweep/`` never
names a backend: whether it is synthetic (no engine: the sim), whether its servers are someone
else's, and which functions of its module the executor calls (``BackendEntry``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from agents.backends.chat import Backend, SetupError
from agents.backends.options import (
    BackendConfigError,
    ClientOptions,
    Options,
    Runtime,
    SimOptions,
    VllmOptions,
)

# The ``engine`` of the episode identity (sweep.spec): a synthetic backend's, or any real one's.
SYNTHETIC_ENGINE, REAL_ENGINE = "sim", "llm"


@dataclass(frozen=True)
class BackendEntry:
    module: str
    cls: str  # the factory: cls(options, runtime)
    extra: str  # the pip extra that provides its packages
    options: type[Options]  # its typed options, parsed once from the config (parse_options)
    synthetic: bool = False  # no engine (the sim): its numbers are not evidence about LLMs
    # Functions of ``module`` the executor calls, when the backend has them (``options``: the
    # typed object): engine_slots(models, options) -> requests the engines can hold (runner
    # sizing); prepare_runners(specs, options, runners, recount, replicas) -> RunnerSetup (.setup;
    # ``replicas``: a deployment phase's per model, or None for the catalogue's).
    engine_slots: str | None = None
    prepare_runners: str | None = None
    # Its endpoints are someone else's (a server of the user's, a hosted API): orgsweep deploys
    # nothing, the launch checks before dispatch that they list every model (sweep.preflight),
    # and the plan's cost is tokens at list prices. A backend that serves its own models (or
    # none) checks that itself.
    external: bool = False
    # It deploys the models itself (prepare_runners serves them): the executor follows the
    # deployment schedule's phases and replicas (sweep.phases) for it.
    serves_models: bool = False

    @property
    def engine(self) -> str:
        """The ``engine`` field of the episode identity (sweep.spec): sim results never mix
        with those of a real engine, whichever route serves it."""
        return SYNTHETIC_ENGINE if self.synthetic else REAL_ENGINE


_ENTRIES: Mapping[str, BackendEntry] = MappingProxyType(
    {
        "sim": BackendEntry("agents.backends.sim", "SimBackend", "", SimOptions, synthetic=True),
        "openai": BackendEntry(
            "agents.backends.openai",
            "OpenAIBackend",
            "openai",
            ClientOptions,
            engine_slots="engine_slots",
            prepare_runners="prepare_runners",
            external=True,
        ),
        "vllm": BackendEntry(
            "agents.backends.vllm",
            "VllmBackend",
            "vllm",
            VllmOptions,
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


def make_backend(name: str, options: Options, runtime: Runtime | None = None) -> Backend:
    """The backend ``name`` built from its typed options (``parse_options``) and, in a runner,
    what the executor learned at run time."""
    return backend_factory(name)(options, runtime)


def parse_options(name: str, options: Mapping[str, Any]) -> Options:
    """The typed options of backend ``name`` from the config's ``backend.*`` keys (``name``
    left out); raises ``BackendConfigError`` listing every problem, each naming its key, or
    ``KeyError`` / ``BackendUnavailable`` for an unknown backend or a missing package."""
    backend_factory(name)  # the packages are there (the message says which pip install)
    return backend_entry(name).options.parse(options)


def check_options(name: str, options: Mapping[str, Any]) -> list[str]:
    """Every problem with a backend's options (empty when valid), without building it."""
    try:
        parse_options(name, options)
    except (KeyError, BackendUnavailable) as e:
        return [str(e).strip("'\"")]
    except BackendConfigError as e:
        return e.problems
    return []
