"""The cluster simulation's engine (bench/cluster_sim.py, bench/cluster_phases.py): work items
and a fluid continuous-batching replica."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from sweep import sizing


@dataclass
class Item:
    """One unit of a model's work: an episode's calls to that model."""

    key: int
    work: float  # replica-seconds
    width: int  # calls in flight at once
    done: float = 0.0


GROWTH = 3.0  # decode step at full batch = (1 + GROWTH) x the step at batch 1


def batch_speed(calls: int, seqs: int) -> float:
    """Share of a saturated replica's throughput with ``calls`` in flight: b / step(b) over
    C / step(C), step(b) = step(1) x (1 + GROWTH x b / C) as in bench/sim_engine.py. GROWTH = 3
    puts a lone sequence at about 1/64 of the throughput of 256, as vLLM's decode on H100 is
    (about 100 tokens/s alone, 6,000 batched)."""
    b = min(calls, seqs)
    return b * (1 + GROWTH) / (seqs + GROWTH * b)


@dataclass
class Replica:
    model: str
    node: int
    gpus: int
    seqs: int
    ready_s: float
    inflight: list[Item] = field(default_factory=list)
    draining: bool = False

    def admit(self, queue: deque[Item]) -> None:
        """Take queued items while the runners' window (OVERLAP x max_num_seqs calls) has room."""
        if self.draining:
            return
        cap = sizing.OVERLAP * self.seqs
        load = sum(i.width for i in self.inflight)
        while queue and (load + queue[0].width <= cap or not self.inflight):
            load += queue[0].width
            self.inflight.append(queue.popleft())

    def step(self, dt: float, queue: deque[Item]) -> tuple[list[Item], float]:
        """Advance ``dt``, completion by completion, refilling from ``queue`` at once as the
        runners do: finished items and busy replica-seconds."""
        out: list[Item] = []
        left, busy = dt, 0.0
        self.admit(queue)
        while left > 1e-9 and self.inflight:
            width = sum(i.width for i in self.inflight)
            speed = batch_speed(width, self.seqs)
            rate = {id(i): speed * i.width / width for i in self.inflight}
            tau = min(left, *((i.work - i.done) / rate[id(i)] for i in self.inflight))
            for i in self.inflight:
                i.done += tau * rate[id(i)]
            busy += tau * speed
            left -= tau
            out += [i for i in self.inflight if i.done >= i.work - 1e-9]
            self.inflight = [i for i in self.inflight if i.done < i.work - 1e-9]
            self.admit(queue)
        return out, busy
