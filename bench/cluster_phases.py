"""What a launch runs, simulated: the executor's deployment phases (sweep/phases.py) on the
cluster of bench/cluster_sim.py, beside its per-node schedule.

Each phase deploys its replicas (``Phase.replicas_of``), placed first fit on whole nodes of
their GPU type as ``phases.render`` lays them, all at the phase's start and each ready after its
model's load; they serve the phase's episodes (an episode belongs to the phase naming its work
key, ``sweep.execute.split``'s rule) in dispatch order, through the engine of the per-node
simulation (``bench.cluster_engine.Replica``); the phase drains when its last item is done, its
nodes are released and the next phase deploys. A judge served in a phase judges that phase's
episodes once their agents are done; the deferred judge's pass (its own last phase) judges all of
them. Billed: each phase's nodes x their GPUs x the phase's span. A node lost (``fail_at_s``):
its replicas' in-flight items start over and a replacement, billed in its place, comes up after
``boot_s`` and loads them again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.cluster_engine import Item, Replica
from sweep.execute import split_key
from sweep.phases import Phase
from sweep.schedule import Job, first_fit
from sweep.spec import EpisodeSpec


@dataclass
class PhasedCluster:
    """``queues``: each model's items in dispatch order (the judge's under ``ctx["judge"]``);
    ``order``: the episodes, by item key; ``jobs``: each served model's job (its GPUs per
    replica and load)."""

    phases: Sequence[Phase]
    queues: Mapping[str, deque[Item]]
    order: Sequence[EpisodeSpec]
    jobs: Mapping[str, Job]
    ctx: Mapping[str, Any]
    node_gpus: int = 8

    def run(self, dt: float, fail_at_s: float | None, boot_s: float) -> dict[str, float]:
        judge, judge_model = self.ctx["judge"], self.ctx["judge_model"]
        where = split_key(self.phases)
        phase_of = {k: where(spec) for k, spec in enumerate(self.order)}
        serves_judge = [i for i, p in enumerate(self.phases) if judge_model in p.replicas_of()]
        judged_in = {  # the phase serving the episode's judge: its own, else the judge's pass
            k: i if i in serves_judge or not serves_judge else serves_judge[-1]
            for k, i in phase_of.items()
        }
        t = billed = busy = 0.0
        done_agents: set[int] = set()
        nodes_used = 0
        for i, phase in enumerate(self.phases):
            counts = phase.replicas_of()
            queue = {m: deque[Item]() for m in counts}
            waiting: dict[int, Item] = {}  # judge items whose episode is still running
            for model, items in self.queues.items():
                name = judge_model if model == judge else model
                for it in items:
                    mine = judged_in[it.key] == i if model == judge else phase_of[it.key] == i
                    if not mine:
                        continue
                    if name not in queue:
                        raise RuntimeError(f"phase {i} does not serve {name}, which it needs")
                    fresh = Item(it.key, it.work, it.width)
                    if model == judge and it.key not in done_agents:
                        waiting[it.key] = fresh
                    else:
                        queue[name].append(fresh)
            left = sum(len(q) for q in queue.values()) + len(waiting)
            if not left:
                continue
            replicas, n_nodes = self._deploy(counts, t)
            nodes_used = max(nodes_used, n_nodes)
            start = t
            while left:
                if fail_at_s is not None and t >= fail_at_s:
                    replicas = self._lose_node(replicas, queue, t, boot_s)
                    fail_at_s = None
                for r in replicas:
                    if t < r.ready_s:
                        continue
                    finished, b = r.step(dt, queue[r.model])
                    busy += b * r.gpus
                    for it in finished:
                        left -= 1
                        if r.model != judge_model and self.ctx["last_part"][it.key] == r.model:
                            done_agents.add(it.key)
                            if it.key in waiting:
                                queue[judge_model].append(waiting.pop(it.key))
                t += dt
                if t - start > 1e7:
                    raise RuntimeError(f"phase {i} does not finish")
            billed += (t - start) * n_nodes * self.node_gpus
        return {
            "makespan_h": t / 3600,
            "billed_gpu_h": billed / 3600,
            "busy_gpu_h": busy / 3600,
            "busy_share": busy / billed if billed else 0.0,
            "nodes": nodes_used,
        }

    def _deploy(self, counts: Mapping[str, int], t: float) -> tuple[list[Replica], int]:
        """The phase's replicas, first fit on nodes per GPU type (``schedule.first_fit``, as
        ``phases.render`` lays them), and how many nodes."""
        reps = [self.jobs[m] for m, r in counts.items() for _ in range(r)]
        where, types = first_fit(reps, self.node_gpus)
        out = [
            Replica(
                j.model,
                n,
                j.gpus_per_replica,
                self.ctx["models"][j.model].max_num_seqs,
                t + j.load_s,
            )
            for n, j in zip(where, reps, strict=True)
        ]
        return out, len(types)

    def _lose_node(
        self, replicas: list[Replica], queue: Mapping[str, deque[Item]], t: float, boot_s: float
    ) -> list[Replica]:
        """The node with the most replicas is lost: their in-flight items go back to the front of
        their queues; the replacement's replicas load after ``boot_s``."""
        per_node: dict[int, int] = {}
        for r in replicas:
            per_node[r.node] = per_node.get(r.node, 0) + 1
        lost = max(per_node, key=lambda n: (per_node[n], -n))
        keep = [r for r in replicas if r.node != lost]
        again = []
        for r in replicas:
            if r.node != lost:
                continue
            for it in reversed(r.inflight):
                it.done = 0.0
                queue[r.model].appendleft(it)
            load = self.jobs[r.model].load_s
            again.append(Replica(r.model, r.node, r.gpus, r.seqs, t + boot_s + load))
        return keep + again
