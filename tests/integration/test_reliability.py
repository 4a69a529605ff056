"""The reliability suite: hanging servers, concurrent writers, a full disk, hostile model text
(127.0.0.1 only, bounded; signals are in test_interrupt.py).

Each case asserts what a user relies on: nothing committed is lost, nothing is counted twice,
a hanging server cannot hang the sweep, and one clear message is printed instead of a traceback.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from analysis import load
from sweep.cli import main
from sweep.results.store import ResultStore
from tests.fake_openai_server import FakeOpenAIServer

pytestmark = pytest.mark.integration

SLOW = [
    "backend.simulate_latency=true",
    "sweep.blocks.0.tasks_per_cell=2",
    "cluster.flush_rows=30",
    "cluster.num_cpus=2",
    "--no-progress",
]


@pytest.mark.parametrize("action", ["drip", "endless"])
def test_a_server_that_never_finishes_fails_the_episode_in_bounded_time(
    ray_local: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    res = str(tmp_path / "r")
    with FakeOpenAIServer() as server:
        server.faults.drip_s, server.faults.forever_s = 0.5, 60.0
        server.script.extend([action] * 100)
        timeout_s, retries, attempts = 3.0, 1, 1
        t0 = time.perf_counter()
        code = main(
            [
                "launch",
                f"results_dir={res}",
                "sweep.limit=1",
                "backend=openai",
                "allow_unpinned=true",  # the fake server serves no weights to pin
                f"backend.base_url={server.url}",
                "backend.api_key_env=null",
                f"backend.timeout_s={timeout_s}",
                f"backend.max_retries={retries}",
                "backend.max_response_bytes=1048576",
                "backend.backoff_s=0.1",
                f"cluster.max_attempts={attempts}",
                "--no-progress",
            ]
        )
        seconds = time.perf_counter() - t0
    capsys.readouterr()
    assert code in (0, 3)  # 3 where failed episodes are reported by the exit code
    runs = load(res, include_failed=True).runs.collect()
    assert runs["status"].to_list() == ["failed"]
    assert runs["error_kind"].to_list() == ["timeout" if action == "drip" else "server_error"]
    # The bound: 3 x (max_retries + 1) x timeout plus backoff, Ray's start included.
    assert seconds < 3 * (retries + 1) * timeout_s + 30


def test_show_escapes_control_characters_of_model_text(
    ray_local: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res = str(tmp_path / "r")
    assert main(["launch", f"results_dir={res}", "sweep.limit=1", "--no-progress"]) == 0
    store = ResultStore(res)
    [part] = store.parts("transcripts")
    turns = pl.read_parquet(part)
    hostile = "\x1b[2J\x1b]0;pwned\x07 \u202eevil"
    turns = turns.with_columns(pl.col("text") + pl.lit(hostile))
    turns.write_parquet(part)
    episode = load(res).runs.collect()["episode_id"][0]
    capsys.readouterr()
    assert main(["show", res, episode]) == 0
    out = capsys.readouterr().out
    assert "\\x1b[2J" in out and "\\u202e" in out
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out


def _cli(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    cmd = [sys.executable, "-m", "sweep.cli", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _counted_once(res: str) -> int:
    r = load(res)
    runs = r.runs.collect()
    keys = ["episode_id", "step"]
    assert runs.select(keys).is_unique().all()
    assert r.agents.collect().select([*keys, "agent"]).is_unique().all()
    turns = r.transcripts.collect()
    assert turns.height == turns.unique().height
    return runs["episode_id"].n_unique()


def test_two_launches_started_together_one_runs_the_other_names_it(tmp_path: Path) -> None:
    res = str(tmp_path / "r")
    args = ("launch", f"results_dir={res}", "sweep.limit=8", "cluster.num_cpus=2", "--no-progress")
    a, b = _cli(*args), _cli(*args)
    outs = [p.communicate(timeout=300) for p in (a, b)]
    codes = sorted([a.returncode, b.returncode])
    assert codes == [0, 2], outs
    err = next(e for (_, e), p in zip(outs, (a, b), strict=True) if p.returncode == 2)
    assert "is being written by `orgsweep launch` (pid" in err
    assert "Traceback" not in err
    assert _counted_once(res) == 8


def test_a_compact_during_a_launch_or_another_compact_is_refused(tmp_path: Path) -> None:
    res = str(tmp_path / "r")
    slow = _cli("launch", f"results_dir={res}", *SLOW)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ResultStore(res).parts("runs"):
        time.sleep(0.2)
    compact = subprocess.run(
        [sys.executable, "-m", "sweep.cli", "compact", res], capture_output=True, text=True
    )
    assert compact.returncode == 2 and "is being written by `orgsweep launch`" in compact.stderr
    slow.send_signal(signal.SIGINT)
    slow.communicate(timeout=60)
    before = _counted_once(res)
    assert len(ResultStore(res).parts("runs")) > 1
    a, b = _cli("compact", res), _cli("compact", res)
    outs = [p.communicate(timeout=120) for p in (a, b)]
    # Exclusivity itself is tested deterministically in tests/unit/sweep/test_writer_lease.py;
    # here the second may also start after the first has finished.
    codes = sorted([a.returncode, b.returncode])
    assert codes in ([0, 0], [0, 2]), outs
    if codes == [0, 2]:
        assert any("is being written by `orgsweep compact`" in e for _, e in outs)
    assert _counted_once(res) == before  # nothing counted twice
    assert len(ResultStore(res).parts("runs")) == 1


def test_a_full_disk_stops_with_one_message_and_the_resume_is_exact(
    ray_local: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    res = str(tmp_path / "r")
    args = [
        "launch",
        f"results_dir={res}",
        "sweep.limit=12",
        "cluster.flush_rows=1",
        "--no-progress",
    ]
    real = ResultStore.write_part
    calls = {"n": 0}

    def fills_up(self: ResultStore, table: str, rows: object, *a: object, **k: object) -> object:
        calls["n"] += 1
        if calls["n"] > 3:  # one commit (3 tables) lands, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", f"{self.path(table)}/part.tmp")
        return real(self, table, rows, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(ResultStore, "write_part", fills_up)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "orgsweep: error: no space left on device (" in err
    assert "everything committed before is intact" in err and "Traceback" not in err
    monkeypatch.setattr(ResultStore, "write_part", real)
    kept = _counted_once(res)
    assert 0 < kept < 12
    assert main(args) == 0
    assert f"{12 - kept} to run" in capsys.readouterr().out
    assert _counted_once(res) == 12


def test_rescore_against_a_server_that_refuses_the_key(
    ray_local: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res = str(tmp_path / "r")
    assert main(["launch", f"results_dir={res}", "sweep.limit=2", "--no-progress"]) == 0
    with FakeOpenAIServer() as server:
        server.script.extend(["401"] * 10)
        os.environ["ORGSWEEP_TEST_KEY"] = "sk-canary-0123456789"
        try:
            code = main(
                [
                    "rescore",
                    res,
                    "backend=openai",
                    f"backend.base_url={server.url}",
                    "backend.api_key_env=ORGSWEEP_TEST_KEY",
                ]
            )
        finally:
            del os.environ["ORGSWEEP_TEST_KEY"]
    err = capsys.readouterr().err
    assert code == 1
    assert (
        f"orgsweep: error: HTTP 401 from {server.url}: Incorrect API key provided: Bearer ***"
        in err
    )
    assert "check the key in the variable backend.api_key_env names" in err
    assert "sk-canary" not in err and "Traceback" not in err
