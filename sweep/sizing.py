"""How many episodes each runner keeps in flight when ``cluster.episodes_per_runner`` is null.

Pure. With a real backend the engines should never wait for work: the runners together keep
enough episodes in flight for their agents' calls to fill every engine slot the clients may
use (replicas x ``max_num_seqs`` x (1 + ``admission_headroom``) per model and endpoint, or
``max_in_flight``), twice over, because an episode's calls come in waves and its tail leaves
slots empty. Calls beyond that wait in the clients' admission windows, which is safe (they are
only queued coroutines), so the estimate errs on the side of more episodes. The sim backend has
no engine: a fixed number keeps the runners' CPUs busy.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from agents.backends import backend_hook
from agents.backends.options import Options
from agents.protocols import get_protocol
from sweep.spec import EpisodeSpec

FLOOR = 16  # episodes per runner: what a CPU-bound runner needs, and the least it gets
CEILING = 1024  # an upper bound, so a huge engine does not put a whole plan in one runner
OVERLAP = 2.0  # episodes in flight per episode's worth of engine slots


def width(spec: EpisodeSpec) -> int:
    """Agent calls an episode of ``spec`` has in flight at once, at most."""
    return spec.n_agents if get_protocol(spec.protocol).parallel else 1


def engine_slots(
    specs: Sequence[EpisodeSpec],
    backend: str,
    options: Options,
    replicas: Mapping[str, int] | None = None,
) -> int:
    """Requests the clients may keep in flight over the agents' models of ``specs``, as the
    backend declares it (``engine_slots`` in ``agents.backends``; ``options``: its typed
    options); 0 for one with no engine. ``replicas``: a deployment phase's replicas per model,
    in place of the catalogue's."""
    count = backend_hook(backend, "engine_slots")
    if count is None:
        return 0
    served = replicas or {}
    models = [
        dataclasses.replace(m, replicas=served[m.name]) if m.name in served else m
        for m in {s.model.name: s.model for s in specs}.values()
    ]
    return int(count(models, options))


def episodes_per_runner(
    specs: Sequence[EpisodeSpec],
    backend: str,
    options: Options,
    runners: int,
    replicas: Mapping[str, int] | None = None,
) -> int:
    """Episodes in flight per runner (module docstring), between FLOOR and CEILING."""
    slots = engine_slots(specs, backend, options, replicas)
    if not specs or slots == 0:
        return FLOOR
    mean_width = sum(width(s) for s in specs) / len(specs)
    wanted = OVERLAP * slots / max(mean_width, 1.0)
    return max(FLOOR, min(CEILING, math.ceil(wanted / max(runners, 1))))
