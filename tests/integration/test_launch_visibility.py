"""Issue 16 acceptance: a launch you can see. Progress lines reach a file while it runs,
``status`` tells running from stopped with the live display's rate, and an unreachable server
fails fast (preflight) or, with preflight skipped, shows up as failures by kind (exit 3)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sweep.cli import main
from sweep.failures import EXIT_FAILED_EPISODES
from sweep.results.store import ResultStore

pytestmark = pytest.mark.integration

SLOW = [
    "backend.simulate_latency=true",
    "sweep.blocks.0.tasks_per_cell=4",
    "cluster.num_cpus=2",
    "cluster.flush_seconds=1",
    "--progress-every=1",
]
LINE = re.compile(r"^\[\d+m\d\ds\] (\d+)/(\d+) ok \d+ failed \d+ \| ([\d.e+-]+) ep/s")


def _status(res: str, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main(["status", res, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _lines(log: Path) -> list[re.Match[str]]:
    return [m for x in log.read_text().splitlines() if (m := LINE.match(x))]


def test_progress_in_a_log_file_and_status_running_then_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res, log = str(tmp_path / "r"), tmp_path / "launch.log"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    cmd = [sys.executable, "-m", "sweep.cli", "launch", f"results_dir={res}", *SLOW]
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 240
        # Wait until a fair share has run, so both rates are past Ray's start-up.
        while time.monotonic() < deadline and proc.poll() is None:
            lines = _lines(log)
            if lines and int(lines[-1].group(1)) >= 0.25 * int(lines[-1].group(2)):
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the launch ended first:\n" + log.read_text()[-2000:]
        assert _lines(log), "no progress line before the end"  # stdout is a file, not a TTY
        s = _status(res, capsys)
        live = float(_lines(log)[-1].group(3))
        assert s["state"] == "running"
        assert s["pid"] == proc.pid
        with capsys.disabled():  # the figure, for BENCHMARKS-style reporting with -s
            print(f"status {s['episodes_per_s']:.3f} ep/s, live display {live:.3f} ep/s")
        assert abs(s["episodes_per_s"] - live) <= 0.2 * live, (s, live)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # a killed launch: no chance to say goodbye
        proc.wait(timeout=60)
    s = _status(res, capsys)
    assert s["state"] == "stopped" and "episodes_per_s" not in s
    assert 0 < s["ok"] < s["planned"]


def test_unreachable_server_fails_fast_or_shows_failures_by_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    res = str(tmp_path / "r")
    url = "http://127.0.0.1:9/v1"
    args = [
        "launch",
        f"results_dir={res}",
        "sweep.limit=2",
        "backend=openai",
        "allow_unpinned=true",  # nothing is served there to pin
        f"backend.base_url={url}",
        "backend.api_key_env=null",
        "--no-progress",
    ]
    t0 = time.monotonic()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"orgsweep: error: preflight: cannot reach {url}/models (")
    assert not ResultStore(res).exists()  # stopped before anything was written or dispatched
    with capsys.disabled():
        print(f"preflight refused in {time.monotonic() - t0:.1f} s")

    quick = ["backend.max_retries=0", "cluster.max_attempts=1", "cluster.num_cpus=2"]
    assert main([*args, *quick, "--no-preflight"]) == EXIT_FAILED_EPISODES
    out = capsys.readouterr().out
    assert "ran 0 ok, 2 failed" in out
    assert "failed episodes: 2, by kind:\n  connection: 2 (e.g. " in out
    assert f"    connection to {url} failed" in out
    assert "list them: orgsweep query " in out and "FROM failed'" in out
    capsys.readouterr()
    sql = "SELECT error_kind, count(*) AS n FROM failed GROUP BY 1"
    assert main(["query", res, sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"error_kind": "connection", "n": 2}]
    s = _status(res, capsys)
    assert s["failures"]["connection"]["count"] == 2 and s["state"] == "finished"
