"""Backend registry: name -> factory. Optional packages are imported only by their factory.

A factory takes the backend's config options as keyword arguments and returns an object with
``async chat(ChatRequest) -> ChatResponse`` and ``async aclose()``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from agents.backends.chat import Backend, SetupError

# name -> (module, class, pip extra that provides its packages)
_ENTRIES: Mapping[str, tuple[str, str, str]] = MappingProxyType(
    {
        "sim": ("agents.backends.sim", "SimBackend", ""),
        "openai": ("agents.backends.openai", "OpenAIBackend", "openai"),
        "vllm": ("agents.backends.vllm", "VllmBackend", "vllm"),
    }
)
BACKENDS = tuple(_ENTRIES)


class BackendUnavailable(SetupError):
    """The backend's optional packages are not installed."""


def backend_factory(name: str) -> Callable[..., Backend]:
    try:
        module, cls, extra = _ENTRIES[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r}; valid: {', '.join(BACKENDS)}") from None
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise BackendUnavailable(
            f"backend {name!r} needs packages that are not installed ({e.name}); "
            f"install them with: pip install 'orgsweep[{extra}]'"
        ) from None
    factory: Callable[..., Backend] = getattr(mod, cls)
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
    check = getattr(importlib.import_module(_ENTRIES[name][0]), "check_options", None)
    if check is not None:
        return list(check(options))
    params = inspect.signature(factory).parameters
    unknown = sorted(set(options) - set(params))
    if unknown:
        return [f"backend: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(params))}"]
    return []
