"""The protocol registry: name -> (parameter dataclass, run function).

Adding a protocol = one module with ``Params`` and ``async def run(rt, params)``, one line here,
and ``conf/protocol/<name>.yaml``. The contract test suite is parametrised over this table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from agents.protocols import (
    broadcast,
    clonal,
    coordinator,
    morphogenetic,
    ripple,
    sequential,
    shared,
    stigmergic,
)
from agents.protocols.steps import StepOutcome
from agents.runtime import StepRuntime


@dataclass(frozen=True)
class ProtocolEntry:
    name: str
    params: type
    run: Callable[[StepRuntime, Any], Awaitable[StepOutcome]]
    calls: Callable[[int, Any], int]  # agent calls per step for N agents (upper bound)
    fixed_roles_allowed: bool = True
    parallel: bool = True  # False: one agent call in flight at a time (a chain of turns)


def _n(n: int, params: Any) -> int:
    return n


def _2n(n: int, params: Any) -> int:
    return 2 * n


PROTOCOLS: Mapping[str, ProtocolEntry] = MappingProxyType(
    {
        "coordinator": ProtocolEntry(
            "coordinator", coordinator.Params, coordinator.run, lambda n, p: 1 + n, False
        ),
        "sequential": ProtocolEntry(
            "sequential", sequential.Params, sequential.run, _n, parallel=False
        ),
        "broadcast": ProtocolEntry("broadcast", broadcast.Params, broadcast.run, _2n),
        "shared": ProtocolEntry("shared", shared.Params, shared.run, _n),
        "ripple": ProtocolEntry("ripple", ripple.Params, ripple.run, _n),
        "stigmergic": ProtocolEntry(
            "stigmergic", stigmergic.Params, stigmergic.run, lambda n, p: p.rounds * n
        ),
        "morphogenetic": ProtocolEntry(
            "morphogenetic", morphogenetic.Params, morphogenetic.run, _2n
        ),
        "clonal": ProtocolEntry("clonal", clonal.Params, clonal.run, _n),
    }
)


def get_protocol(name: str) -> ProtocolEntry:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise KeyError(
            f"unknown protocol {name!r}; valid: {', '.join(sorted(PROTOCOLS))}"
        ) from None


def make_params(name: str, params: Mapping[str, Any]) -> Any:
    """Typed parameters for ``name``; unknown keys fail with the list of valid ones."""
    entry = get_protocol(name)
    valid = {f.name for f in dataclasses.fields(entry.params)}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ValueError(
            f"protocol {name!r} has no parameter(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(valid)) or '(none)'}"
        )
    return entry.params(**params)
