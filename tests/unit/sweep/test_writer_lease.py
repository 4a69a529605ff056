"""One writer per results directory: the lease is exclusive, names its holder, and is taken
over when its holder is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sweep.lease import LEASE, Lease, LeaseHeld
from sweep.results.store import ResultStore


def test_a_second_writer_is_refused_with_the_holders_name(tmp_path: Path) -> None:
    store = ResultStore(str(tmp_path / "r"))
    with Lease(store, "launch"):
        with pytest.raises(LeaseHeld) as e:
            Lease(store, "compact").acquire()
        msg = str(e.value)
        assert f"`orgsweep launch` (pid {os.getpid()} on host" in msg
        assert "pass --wait to start when it does" in msg
    assert not (tmp_path / "r" / LEASE).exists()  # released on exit
    with Lease(store, "compact"):  # and free again
        pass


@pytest.mark.parametrize("attempt", range(10))
def test_only_one_of_many_simultaneous_writers_gets_it(tmp_path: Path, attempt: int) -> None:
    store = ResultStore(str(tmp_path / "r"))
    won: list[Lease] = []
    refused: list[str] = []
    go = threading.Barrier(8)

    def attempt(i: int) -> None:
        lease = Lease(store, f"launch-{i}")
        go.wait()
        try:
            lease.acquire()
            won.append(lease)
        except LeaseHeld as e:
            refused.append(str(e))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(refused) == 7
    assert all(f"`orgsweep {won[0].command}`" in r for r in refused)
    won[0].release()


def test_the_lease_of_a_killed_process_is_taken_over_at_once(tmp_path: Path) -> None:
    res = str(tmp_path / "r")
    code = (
        "import os; from sweep.lease import Lease; "
        "from sweep.results.store import ResultStore; "
        f"Lease(ResultStore({res!r}), 'launch').acquire(); print('held', flush=True); "
        "os._exit(0)"  # dies holding it, as after a SIGKILL: nothing released
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "held"
    assert (tmp_path / "r" / LEASE).exists()
    with Lease(ResultStore(res), "compact") as lease:
        assert lease.holder() is not None and lease.holder().token == lease.token  # type: ignore[union-attr]


def test_a_lease_not_renewed_is_stale_after_the_timeout(tmp_path: Path) -> None:
    store = ResultStore(str(tmp_path / "r"))
    (tmp_path / "r").mkdir()
    now = time.time()
    other = {"host": "node-7", "pid": 1, "command": "launch", "token": "t", "started": now}
    (tmp_path / "r" / LEASE).write_text(json.dumps({**other, "renewed": now}))
    with pytest.raises(LeaseHeld, match="pid 1 on host node-7"):
        Lease(store, "compact", stale_s=30).acquire()
    (tmp_path / "r" / LEASE).write_text(json.dumps({**other, "renewed": now - 31}))
    with Lease(store, "compact", stale_s=30) as lease:
        assert lease.holder().command == "compact"  # type: ignore[union-attr]


def test_wait_starts_when_the_holder_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sweep.lease.WAIT_POLL_S", 0.05)
    store = ResultStore(str(tmp_path / "r"))
    first = Lease(store, "launch")
    first.acquire()
    said: list[str] = []
    threading.Timer(0.3, first.release).start()
    with Lease(store, "compact", wait=True, on_wait=said.append) as second:
        assert second.holder().command == "compact"  # type: ignore[union-attr]
    assert len(said) == 1 and said[0].startswith("waiting:") and "`orgsweep launch`" in said[0]


def test_the_holder_renews_its_lease(tmp_path: Path) -> None:
    store = ResultStore(str(tmp_path / "r"))
    with Lease(store, "launch", renew_s=0.05) as lease:
        first = lease.holder().renewed  # type: ignore[union-attr]
        time.sleep(0.3)
        assert lease.holder().renewed > first  # type: ignore[union-attr]


def test_a_directory_the_lease_created_is_removed_if_left_empty(tmp_path: Path) -> None:
    with Lease(ResultStore(str(tmp_path / "new")), "launch"):
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()  # a refused launch leaves no trace
    with Lease(ResultStore(str(tmp_path / "kept")), "launch"):
        (tmp_path / "kept" / "sweep.yaml").write_text("sweep: x\n")
    assert (tmp_path / "kept" / "sweep.yaml").exists()
