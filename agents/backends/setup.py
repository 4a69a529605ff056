"""What a backend's ``prepare_runners`` returns to the executor, and the runner sizing both
OpenAI-compatible backends share.

The executor keeps the user's typed backend options as they are; what it learns at run time
(how many runners share a server, where a freshly deployed route listens) travels beside them
as ``Runtime``, and each runner builds its client from both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from agents.backends.options import ClientOptions, Runtime
from agents.catalogue import ModelSpec


@dataclass(frozen=True)
class RunnerSetup:
    runners: int  # runner actors to start (serving may have taken CPUs)
    runtime: Runtime = field(default_factory=Runtime)  # beside the options, to each runner
    serving: Any = None  # something with shutdown(), stopped after the phase; None: nothing


def slots(
    models: Iterable[ModelSpec],
    client: ClientOptions,
    replicas: Callable[[ModelSpec], int],
    endpoints: int = 1,
) -> int:
    """Requests the clients may keep in flight over ``models`` (the bound they apply)."""
    bounds = (client.in_flight_bound(replicas(m), m.max_num_seqs) for m in models)
    return sum(math.ceil(b) for b in bounds) * endpoints
