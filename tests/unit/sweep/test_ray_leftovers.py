"""Which processes ``sweep.ray_leftovers`` stops: Ray processes of this user whose marked
orgsweep driver is gone, and nothing else (read from a fake /proc)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from sweep.ray_leftovers import MARK, leftovers, marked


def _process(proc: Path, pid: int, cmdline: bytes, **env: str) -> None:
    d = proc / str(pid)
    d.mkdir()
    (d / "cmdline").write_bytes(cmdline)
    (d / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in env.items()) + b"\0")


def _dead_pid() -> int:
    pid = 4_000_000  # above Linux's pid_max default: no such process
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def test_only_ray_processes_of_a_gone_driver_are_leftovers(tmp_path: Path) -> None:
    dead = _dead_pid()
    _process(tmp_path, 101, b"ray::DashboardAgent", **{MARK: str(dead), "HOME": str(tmp_path)})
    # the raylet's command line as Ray starts it: the program inside the installed package
    package = Path(importlib.util.find_spec("ray").origin).parent  # type: ignore[union-attr,arg-type]
    raylet = bytes(package / "core/src/ray/raylet/raylet") + b"\0--x"
    _process(tmp_path, 102, raylet, **{MARK: str(dead)})
    _process(tmp_path, 103, b"ray::RuntimeEnvAgent", **{MARK: str(os.getpid())})  # driver runs
    _process(tmp_path, 104, b"bash\0-l", **{MARK: str(dead)})  # inherited the mark: not Ray's
    _process(tmp_path, 105, b"ray::IDLE", HOME=str(tmp_path))  # not started by orgsweep
    _process(tmp_path, os.getpid(), b"ray::me", **{MARK: str(dead)})  # never this process
    assert leftovers(tmp_path) == {101: dead, 102: dead}


def test_the_mark_names_this_driver_only_inside_the_block() -> None:
    before = os.environ.get(MARK)
    with marked():
        assert os.environ[MARK] == str(os.getpid())
    assert os.environ.get(MARK) == before
