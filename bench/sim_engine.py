"""The simulated engine behind ``bench/sim_server.py``: continuous batching on a clock (real
time, or the virtual clock of ``bench/virtual_time.py``).

``EngineParams`` describes it, ``Engine`` schedules sequences step by step (admission by
capacity and KV blocks, chunked prefill of the tokens the prefix cache does not hold, one decode
token per running sequence per step, preemption of the newest sequence in recompute mode) and
keeps the statistics that ``GET /stats`` returns; ``bound`` is its capacity bound for a
workload. The KV budget is a ``bench.prefix_cache.BlockPool`` of 16-token blocks: a prompt's
full blocks are hashed and shared, unreferenced blocks stay cached until LRU eviction. See
``bench.sim_server`` for the model in full and BENCHMARKS.md for the prefill cost.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.prefix_cache import BLOCK, BlockPool, block_hashes


@dataclass(frozen=True)
class EngineParams:
    capacity: int = 64  # C: max running sequences (vLLM max_num_seqs)
    step_s: float = 0.008  # decode step at batch 1
    growth: float = 0.5  # step time at full batch = step_s * (1 + growth)
    # Per prompt token the prefix cache does not hold (~20k tokens/s: compute-bound prefill of a
    # mid-size model on one GPU; BENCHMARKS.md). Cached tokens cost nothing.
    prefill_s_per_token: float = 50e-6
    chunk_tokens: int = 2048  # tokens per step (decode + prefill), vLLM max_num_batched_tokens
    kv_tokens: int = 96_000  # KV budget in tokens
    watermark: float = 0.01  # share of the KV budget kept free at admission
    preempt_stall_s: float = 0.0  # extra fixed cost of each preemption
    max_lag_s: float = 0.05  # how far behind its nominal clock the engine may catch up
    bin_s: float = 0.25  # occupancy timeline resolution
    # Workload knob: a reply costs this many times its token estimate in decode steps (a wordier
    # model than the sim; the text sent back is the sim's reply either way).
    completion_scale: float = 1.0

    def step_time(self, b: int) -> float:
        return self.step_s * (1 + self.growth * b / self.capacity) if b > 0 else 0.0


def bound(
    p: EngineParams, prompt: float, completion: float, prefill: float | None = None
) -> dict[str, float]:
    """Capacity bound for requests of mean ``prompt`` and ``completion`` tokens of which
    ``prefill`` (default: all of ``prompt``) must be prefilled: with a prefix cache, the ideal
    (every distinct block prefilled once; ``ideal_prefill_tokens`` / ``requests`` in the stats).

    ``raw_tokens_per_s``: C / step time at full batch (decode only, infinite KV).
    ``kv_batch``: sequences the KV budget holds at once (mean footprint: the unshared prompt
    part + completion / 2; shared blocks count once).
    ``tokens_per_s``: generated tokens/s when every charge of ``Engine._step`` is at its least:
    each request's first token sampled by its prefill step, its other D - 1 by decode steps at
    batch ``b = min(C, kv_batch)``, its uncached prompt part prefilled once, no preemption, no
    idle step: 1 / (step(b) / b x (D - 1) / D + prefill_s_per_token x prefill / D). The engine
    reaches it exactly when its requests run in cohorts of b (tested); a steady stream, where a
    step also prefills, pays one more step(b) / b per request (about 1 / D less). It assumes
    the prefill of a step fits its chunk (``chunk_fits``: b x prefill / D + b <= chunk_tokens).
    """
    c = p.capacity
    raw = c / p.step_time(c)
    unshared = prompt if prefill is None else prefill
    d = max(completion, 1.0)
    foot = max(unshared + completion / 2, 1.0)
    kv_batch = p.kv_tokens * (1 - p.watermark) / foot
    b = max(1, min(c, math.floor(kv_batch)))
    per_token = p.step_time(b) / b * (d - 1) / d + p.prefill_s_per_token * unshared / d
    return {
        "raw_tokens_per_s": raw,
        "kv_batch": kv_batch,
        "batch": b,
        "occupancy": b / c,
        "tokens_per_s": 1 / per_token,
        "chunk_fits": float(b * unshared / d + b <= p.chunk_tokens),
    }


@dataclass(eq=False)
class _Seq:
    prompt: int
    target: int
    fut: asyncio.Future[None]
    arrived: float
    hashes: list[int] = field(default_factory=list)  # the prompt's full-block hashes
    need: int = 0  # tokens to compute before decoding (prompt, + generated after a preemption)
    computed: int = 0
    generated: int = 0
    anon: int = 0  # unhashed blocks held (prompt tail, generated tokens); 0 when not running
    admissions: int = 0
    order: int = 0  # admission order: the newest is preempted first
    admitted: float = 0.0


@dataclass
class _Stats:
    t0: float
    mark: float
    occ_integral: float = 0.0  # running-sequence-seconds
    wait_integral: float = 0.0
    kv_integral: float = 0.0
    busy_s: float = 0.0
    nominal_s: float = 0.0  # sum of step times
    steps: int = 0
    decode_tokens: int = 0
    prefill_tokens: int = 0  # tokens computed for prompts (uncached), recomputation included
    recompute_tokens: int = 0
    prompt_tokens: int = 0  # prompt tokens of the requests admitted (once each)
    prefix_queries: int = 0  # tokens looked up in the prefix cache (every admission)
    prefix_hits: int = 0  # of those, found cached
    ideal_prefill_tokens: int = 0  # each distinct block once, plus every partial tail
    evictions_at_reset: int = 0
    prefill_bound_s: float = 0.0  # engine time in steps where prefill cost more than decode
    decode_s: float = 0.0  # charged step time: the decode part (step(b) for b decoding)
    prefill_s: float = 0.0  # charged step time: the prefill part (uncached tokens)
    stall_s: float = 0.0  # charged step time: preemption stalls
    decode_batch_integral: float = 0.0  # decoding sequences x step time
    full_s: float = 0.0  # wall time with all C slots running
    queued_s: float = 0.0  # wall time with a free slot and a request waiting (KV-bound)
    starved_s: float = 0.0  # wall time with a free slot and nothing waiting (the client's)
    preemptions: int = 0
    done: int = 0
    aborted: int = 0
    prompt_done: int = 0
    completion_done: int = 0
    queue_wait_s: float = 0.0
    latency_s: float = 0.0
    lag_resets: int = 0
    max_waiting: int = 0
    bins: list[float] = field(default_factory=list)  # running-sequence-seconds per bin
    token_bins: list[int] = field(default_factory=list)  # tokens generated per bin


class Engine:
    def __init__(self, params: EngineParams, clock: Callable[[], float] = time.monotonic):
        """``clock``: the engine's time (the event loop's; ``bench.virtual_time`` passes a
        virtual one)."""
        self.p = params
        self.clock = clock
        self.waiting: deque[_Seq] = deque()
        self.running: list[_Seq] = []
        self.pool = BlockPool(params.kv_tokens // BLOCK)
        self._seen: set[int] = set()  # block hashes ever submitted (the ideal cache)
        self._order = 0
        self._wake = asyncio.Event()
        self._clock = 0.0
        self.reset()

    # ---- requests -----------------------------------------------------------------------

    def submit(self, prompt: int | Sequence[int], target: int) -> _Seq:
        """Queue a request: its prompt's token ids (or only a length: nothing cacheable)."""
        now = self.clock()
        tokens = prompt if not isinstance(prompt, int) else ()
        n = prompt if isinstance(prompt, int) else len(prompt)
        seq = _Seq(n, max(1, target), asyncio.get_running_loop().create_future(), now)
        seq.hashes = block_hashes(tokens)
        seq.need = n
        fresh = [h for h in seq.hashes if h not in self._seen]
        self._seen.update(fresh)
        self.s.ideal_prefill_tokens += max(1, BLOCK * len(fresh) + n - BLOCK * len(seq.hashes))
        self.waiting.append(seq)
        self.s.max_waiting = max(self.s.max_waiting, len(self.waiting))
        self._wake.set()
        return seq

    def abort(self, seq: _Seq) -> None:
        """The client went away: free the sequence's slot and KV."""
        if seq in self.running:
            self.running.remove(seq)
            self.pool.release(seq.hashes, seq.anon)
            seq.anon = 0
        elif seq in self.waiting:
            self.waiting.remove(seq)
        self.s.aborted += 1

    # ---- the scheduler --------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.running and not self.waiting:
                self._account(self.clock())
                self._n = 0
                self._wake.clear()
                await self._wake.wait()
                self._clock = loop.time()
            self._admit()
            self._account(self.clock())
            dt, finished = self._step()
            self._n = len(self.running) + len(finished)  # running during this step
            if self._clock < loop.time() - self.p.max_lag_s:  # fell behind: stop making it up
                self._clock = loop.time()
                self.s.lag_resets += 1
            self._clock += dt
            await asyncio.sleep(max(0.0, self._clock - loop.time()))
            end = self.clock()
            for seq in finished:
                self.s.done += 1
                self.s.prompt_done += seq.prompt
                self.s.completion_done += seq.target
                self.s.latency_s += end - seq.arrived
                if not seq.fut.done():
                    seq.fut.set_result(None)

    def run_untimed(
        self, on_finish: Callable[[_Seq], None] = lambda seq: None, max_steps: int = 10**6
    ) -> float:
        """Schedule until nothing is left, without the clock (tests, offline use); calls
        ``on_finish`` for each finished sequence (it may submit more). Returns the summed step
        time."""
        total = 0.0
        for _ in range(max_steps):
            if not self.running and not self.waiting:
                break
            self._admit()
            dt, finished = self._step()
            total += dt
            for seq in finished:
                on_finish(seq)
        return total

    def _admit(self) -> None:
        pool = self.pool
        reserve = math.ceil(pool.n_blocks * self.p.watermark)
        while self.waiting and len(self.running) < self.p.capacity:
            seq = self.waiting[0]
            # a fully cached prompt still computes its last token (vLLM does the same)
            hits = min(pool.cached_prefix(seq.hashes), (seq.need - 1) // BLOCK)
            anon = max(1, math.ceil(seq.need / BLOCK)) - len(seq.hashes)
            if pool.free - pool.cost(seq.hashes, hits, anon) < reserve:
                break  # FCFS: the head waits for room, nobody overtakes it
            self.waiting.popleft()
            pool.acquire(seq.hashes, hits, anon)
            seq.anon = anon
            seq.computed = hits * BLOCK
            self.s.prefix_queries += seq.need
            self.s.prefix_hits += seq.computed
            if seq.admissions == 0:
                self.s.prompt_tokens += seq.prompt
            seq.admissions += 1
            self._order += 1
            seq.order = self._order
            if seq.admitted == 0.0:
                seq.admitted = self.clock()
                self.s.queue_wait_s += seq.admitted - seq.arrived
            self.running.append(seq)

    def _step(self) -> tuple[float, list[_Seq]]:
        """One engine step: preempt for decode room, prefill a chunk, decode one token each."""
        p = self.p
        stall = 0.0
        decoding = [s for s in self.running if s.computed >= s.need]
        while decoding and self.pool.free < sum(map(self._grows, decoding)):
            victim = max(self.running, key=lambda s: s.order)
            self._preempt(victim)
            stall += p.preempt_stall_s
            if victim in decoding:
                decoding.remove(victim)
        budget = p.chunk_tokens - len(decoding)
        prefill = 0
        prefilled: list[_Seq] = []  # sequences whose prefill ends in this step
        for s in sorted(self.running, key=lambda s: s.order):
            if budget <= 0:
                break
            if s.computed < s.need:
                take = min(s.need - s.computed, budget)
                s.computed += take
                budget -= take
                prefill += take
                if s.computed >= s.need:
                    prefilled.append(s)
        # As in vLLM, the step that computes a prompt's last token samples the sequence's next
        # token from it (at no decode cost); if that token needs a block and none is free, it is
        # sampled in the next step instead.
        emitting = decoding + [s for s in prefilled if not self._grows(s) or self.pool.free > 0]
        finished = []
        for s in emitting:
            if self._grows(s):
                self.pool.grow(1)
                s.anon += 1
            s.generated += 1
            if s.generated >= s.target:
                finished.append(s)
        for s in finished:
            self.running.remove(s)
            self.pool.release(s.hashes, s.anon)
            s.anon = 0
        self.s.decode_tokens += len(emitting)
        i = int((self.clock() - self.s.t0) / p.bin_s)
        bins = self.s.token_bins
        bins.extend([0] * (i + 1 - len(bins)))
        bins[i] += len(emitting)
        self.s.prefill_tokens += prefill
        decode_s, prefill_s = p.step_time(len(decoding)), p.prefill_s_per_token * prefill
        dt = max(decode_s + prefill_s + stall, 1e-4)
        if prefill_s > decode_s:
            self.s.prefill_bound_s += dt
        self.s.decode_s += decode_s
        self.s.prefill_s += prefill_s
        self.s.stall_s += stall
        self.s.decode_batch_integral += len(decoding) * dt
        self.s.nominal_s += dt
        self.s.steps += 1
        return dt, finished

    @staticmethod
    def _grows(s: _Seq) -> int:
        """1 if the sequence's next token needs a new block."""
        return int(s.prompt + s.generated + 1 > BLOCK * (len(s.hashes) + s.anon))

    def _preempt(self, seq: _Seq) -> None:
        self.running.remove(seq)
        self.pool.release(seq.hashes, seq.anon)  # its prompt blocks stay cached until evicted
        seq.anon = 0
        seq.computed = 0
        seq.need = seq.prompt + seq.generated  # recompute: prompt and what it had generated
        self.s.recompute_tokens += seq.need
        self.s.preemptions += 1
        self.waiting.appendleft(seq)

    # ---- statistics -------------------------------------------------------------------------

    def reset(self) -> None:
        """Start the statistics afresh; when idle, empty the prefix cache too (a fresh engine)."""
        if not self.running and not self.waiting:
            self.pool = BlockPool(self.p.kv_tokens // BLOCK)
            self._seen = set()
        now = self.clock()
        self.s = _Stats(t0=now, mark=now, evictions_at_reset=self.pool.evictions)
        self._n = len(self.running)

    def _account(self, now: float) -> None:
        """Integrate running / waiting / KV since the last mark (``_n`` is the running count
        since then)."""
        s = self.s
        dt = now - s.mark
        if dt <= 0:
            return
        n = self._n
        s.occ_integral += n * dt
        s.wait_integral += len(self.waiting) * dt
        s.kv_integral += self.pool.held * BLOCK * dt
        if n:
            s.busy_s += dt
        if n >= self.p.capacity:
            s.full_s += dt
        elif self.waiting:
            s.queued_s += dt
        else:
            s.starved_s += dt
        a, b, w = s.mark - s.t0, now - s.t0, self.p.bin_s
        while a < b:
            i = int(a / w)
            edge = min(b, (i + 1) * w)
            while len(s.bins) <= i:
                s.bins.append(0.0)
            s.bins[i] += n * (edge - a)
            a = edge
        s.mark = now

    def stats(self) -> dict[str, Any]:
        now = self.clock()
        self._account(now)
        s, c = self.s, self.p.capacity
        window = max(now - s.t0, 1e-9)
        done = max(s.done, 1)
        return {
            "t0": s.t0,
            "window_s": window,
            "occupancy": s.occ_integral / (c * window),
            "occupancy_busy": s.occ_integral / (c * s.busy_s) if s.busy_s else 0.0,
            "running_mean": s.occ_integral / window,
            "waiting_mean": s.wait_integral / window,
            "max_waiting": s.max_waiting,
            "kv_mean": s.kv_integral / window / self.p.kv_tokens,
            "decode_tokens": s.decode_tokens,
            "decode_tokens_per_s": s.decode_tokens / window,
            "prefill_tokens": s.prefill_tokens,
            "recompute_tokens": s.recompute_tokens,
            "prompt_tokens": s.prompt_tokens,
            "prefilled_tokens": s.prefill_tokens,
            "prefilled_share": s.prefill_tokens / s.prompt_tokens if s.prompt_tokens else 0.0,
            "ideal_prefill_tokens": s.ideal_prefill_tokens,
            "prefix_queries": s.prefix_queries,
            "prefix_hits": s.prefix_hits,
            "hit_rate": s.prefix_hits / s.prefix_queries if s.prefix_queries else 0.0,
            "evictions": self.pool.evictions - s.evictions_at_reset,
            "cached_blocks": len(self.pool.lru),
            "prefill_bound_s": s.prefill_bound_s,
            "prefill_bound_share": s.prefill_bound_s / s.nominal_s if s.nominal_s else 0.0,
            "nominal_s": s.nominal_s,
            "busy_s": s.busy_s,
            "charged_decode_s": s.decode_s,
            "charged_prefill_s": s.prefill_s,
            "charged_stall_s": s.stall_s,
            "decode_batch_mean": s.decode_batch_integral / s.nominal_s if s.nominal_s else 0.0,
            "full_share": s.full_s / window,
            "queued_share": s.queued_s / window,
            "starved_share": s.starved_s / window,
            "preemptions": s.preemptions,
            "requests": s.done,
            "aborted": s.aborted,
            "mean_prompt": s.prompt_done / done,
            "mean_completion": s.completion_done / done,
            "mean_queue_wait_s": s.queue_wait_s / done,
            "mean_latency_s": s.latency_s / done,
            "steps": s.steps,
            "clock_efficiency": s.nominal_s / s.busy_s if s.busy_s else 1.0,
            "lag_resets": s.lag_resets,
            "bin_s": self.p.bin_s,
            "occupancy_bins": [x / (c * self.p.bin_s) for x in s.bins],
            "token_bins": s.token_bins,
            "params": asdict(self.p),
        }
