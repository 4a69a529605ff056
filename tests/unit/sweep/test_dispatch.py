"""The executor's dispatch and retry (``sweep.execute._Phase``) against a fake runner pool: no
Ray instance is started. The fake stands in for the actors and for ``ray.wait``/``ray.get``;
each episode's outcome is scripted per attempt."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import ray.exceptions

from agents.backends.options import SimOptions
from sweep import execute
from sweep.config import BackendConfig, ClusterConfig, build, compose
from sweep.episode import EpisodeRows
from sweep.plan import plan
from sweep.spec import EpisodeSpec

Script = Callable[[EpisodeSpec, int], execute.Outcome | BaseException]


class Ref:
    def __init__(self, runner: FakeRunner, spec: EpisodeSpec, attempt: int):
        self.runner, self.spec, self.attempt = runner, spec, attempt


class FakeRunner:
    def __init__(self, pool: FakePool):
        self.pool = pool
        self.in_flight = 0
        self.run = self  # runner.run.remote(spec, attempt)

    def remote(self, spec: EpisodeSpec, attempt: int, judge_now: bool = True) -> Ref:
        self.pool.judged_now.append(judge_now)
        self.in_flight += 1
        self.pool.peak = max(self.pool.peak, self.in_flight)
        self.pool.calls.append((spec.episode_id, attempt))
        return Ref(self, spec, attempt)


class FakePool:
    """``EpisodeRunner`` and the ``ray`` functions ``_Phase`` calls."""

    exceptions = ray.exceptions

    def __init__(self, script: Script, cpus: float = 2.0):
        self.script, self.cpus = script, cpus
        self.runners: list[FakeRunner] = []
        self.calls: list[tuple[str, int]] = []
        self.judged_now: list[bool] = []  # per call: judged inline (False: deferred)
        self.peak = 0

    # EpisodeRunner.options(**opts).remote(backend, runtime)
    def options(self, **opts: Any) -> FakePool:
        return self

    def remote(self, backend: BackendConfig, runtime: Any) -> FakeRunner:
        self.runners.append(FakeRunner(self))
        return self.runners[-1]

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": self.cpus}

    available_resources = cluster_resources

    def wait(self, refs: list[Ref], num_returns: int = 1, timeout: float | None = None) -> Any:
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: Ref) -> execute.Outcome:
        ref.runner.in_flight -= 1
        out = self.script(ref.spec, ref.attempt)
        if isinstance(out, BaseException):
            raise out
        return out

    def cancel(self, ref: Ref, force: bool = False) -> None:
        return None


class Writer:
    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []

    def add(self, tables: dict[str, Any]) -> None:
        self.runs += tables["runs"]

    def due(self) -> bool:
        return False

    def flush(self) -> int:
        return 0


def ok(spec: EpisodeSpec, attempt: int) -> execute.Outcome:
    row = {"episode_id": spec.episode_id, "attempt": attempt, "status": "ok", "prompt_tokens": 7}
    return execute.Outcome(True, EpisodeRows(runs=[row], agents=[], transcripts=[]))


def infra(kind: str = "server_error") -> execute.Outcome:
    return execute.Outcome(False, kind=kind, error="boom")


@pytest.fixture(scope="module")
def specs() -> list[EpisodeSpec]:
    return list(plan(build(compose(["sweep.limit=6"]))[0]).specs)


def run_phase(
    specs: list[EpisodeSpec], script: Script, monkeypatch: pytest.MonkeyPatch, **cluster: Any
) -> tuple[execute.RunCounts, Writer, FakePool]:
    pool = FakePool(script)
    monkeypatch.setattr(execute, "ray", pool)
    monkeypatch.setattr(execute, "EpisodeRunner", pool)
    c = dataclasses.replace(
        ClusterConfig(), runners=2, episodes_per_runner=2, retry_backoff_s=0.0, **cluster
    )
    work = [(s, 1) for s in specs]
    prog, writer = execute.RunCounts(total=len(work)), Writer()
    execute._Phase(work, writer, BackendConfig("sim", SimOptions()), c, prog, lambda p: None).run()
    return prog, writer, pool


def test_dispatch_is_bounded_per_runner_and_runs_everything(specs, monkeypatch) -> None:
    prog, writer, pool = run_phase(specs, ok, monkeypatch)
    assert len(pool.runners) == 2 and pool.peak <= 2  # cluster.episodes_per_runner
    assert sorted(e for e, _ in pool.calls) == sorted(s.episode_id for s in specs)
    assert (prog.done, prog.failed, prog.retried) == (len(specs), 0, 0)
    assert prog.tokens == 7 * len(specs)
    assert {r["episode_id"] for r in writer.runs} == {s.episode_id for s in specs}


def test_infra_errors_are_retried_with_the_next_attempt(specs, monkeypatch) -> None:
    flaky = specs[0].episode_id

    def script(spec: EpisodeSpec, attempt: int) -> execute.Outcome:
        return infra() if spec.episode_id == flaky and attempt < 3 else ok(spec, attempt)

    prog, writer, pool = run_phase(specs, script, monkeypatch)
    assert [a for e, a in pool.calls if e == flaky] == [1, 2, 3]
    assert (prog.done, prog.failed, prog.retried) == (len(specs), 0, 2)
    assert [r["attempt"] for r in writer.runs if r["episode_id"] == flaky] == [3]


def test_a_poison_episode_is_recorded_failed_after_its_last_attempt(specs, monkeypatch) -> None:
    poison = specs[1].episode_id

    def script(spec: EpisodeSpec, attempt: int) -> execute.Outcome:
        return infra("bad_gateway") if spec.episode_id == poison else ok(spec, attempt)

    prog, writer, pool = run_phase(specs, script, monkeypatch, max_attempts=2)
    assert [a for e, a in pool.calls if e == poison] == [1, 2]
    assert (prog.done, prog.failed, prog.retried) == (len(specs) - 1, 1, 1)
    failed = [r for r in writer.runs if r["episode_id"] == poison]
    assert [(r["status"], r["attempt"], r["error_kind"]) for r in failed] == [
        ("failed", 2, "bad_gateway")
    ]


def test_a_lost_runner_is_retired_and_its_episode_retried(specs, monkeypatch) -> None:
    lost: list[str] = []

    def script(spec: EpisodeSpec, attempt: int) -> execute.Outcome | BaseException:
        if not lost:
            lost.append(spec.episode_id)
            return ray.exceptions.RayActorError()
        return ok(spec, attempt)

    prog, _, pool = run_phase(specs, script, monkeypatch)
    assert [a for e, a in pool.calls if e == lost[0]] == [1, 2]
    assert (prog.done, prog.failed, prog.retried) == (len(specs), 0, 1)
    assert len(pool.runners) == 2  # the other runner was alive: no replacement


def test_retry_rule_backs_off_and_honours_retry_after() -> None:
    from sweep.retry import retry_delay

    assert [retry_delay(k, 4, 0.5) for k in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, None]
    assert retry_delay(2, 4, 0.5, retry_after_s=7.0) == 7.0
    assert retry_delay(1, 1, 0.5, retry_after_s=7.0) is None  # one attempt: no retry
