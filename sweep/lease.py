"""One writer per results directory: a lease file held by launch, compact and rescore.

Two writers on one directory double work (two launches both run every pending episode) or, for
two compactions, commit the same rows twice. Every command that writes takes the lease
``RESULTS_DIR/.writer.lease`` first and holds it until it ends; a second writer gets one message
naming the holder (``LeaseHeld``), or waits for it with ``--wait``. Readers (query, report,
status, show) take no lease.

The file holds the holder's host, pid, command, a random token, when it started and when it last
renewed; a thread renews it every ``RENEW_S``. A lease is stale, and the next writer takes it
over, when its holder ran on this host and its pid is gone (after a SIGKILL: at once), or when it
has not been renewed for ``STALE_S`` seconds (a holder on another host, or a frozen one).

What holds where (docs/design/storage.md):

- Local and network filesystems (a path): the lease is written to a private file and
  hard-linked into place; ``link`` fails when the name exists, atomically on POSIX filesystems
  and NFS, so exactly one of two writers started together gets it, and nobody ever reads a
  half-written lease. A stale lease is taken over by renaming it to a unique name first
  (atomic: one taker wins) and checking that the renamed file is the stale one.
- Object stores (``s3://``, ``gs://``, ...) offer no create-if-absent through pyarrow: the lease
  is written, then read back after ``SETTLE_S``; the writer whose token survives holds it. Two
  writers started within about ``SETTLE_S`` of each other can both believe they hold it. Run one
  command at a time there, or keep the results on a filesystem.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import pyarrow.fs as pafs

from sweep.errors import UserError
from sweep.liveness import gone, this_host

LEASE = ".writer.lease"
RENEW_S = 10.0
STALE_S = 60.0
SETTLE_S = 2.0
WAIT_POLL_S = 2.0


class _Store(Protocol):
    uri: str
    fs: pafs.FileSystem

    def path(self, *parts: str) -> str: ...


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    command: str
    token: str
    started: float  # epoch seconds
    renewed: float

    def describe(self, now: float) -> str:
        if self.token == "?":
            return "another command (its lease file cannot be read)"
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return (
            f"`orgsweep {self.command}` (pid {self.pid} on host {self.host}, since {since}, "
            f"renewed {max(0.0, now - self.renewed):.0f} s ago)"
        )

    def stale(self, now: float, stale_s: float) -> bool:
        return gone(self.host, self.pid, self.renewed, now, stale_s)


class LeaseHeld(UserError):
    """Another command writes to this results directory."""


class Lease:
    """The writer lease of one results directory (a context manager)."""

    def __init__(
        self,
        store: _Store,
        command: str,
        *,
        wait: bool = False,
        stale_s: float = STALE_S,
        renew_s: float = RENEW_S,
        on_wait: Callable[[str], None] | None = None,
    ):
        self.store, self.command, self.wait = store, command, wait
        self.stale_s, self.renew_s, self.on_wait = stale_s, renew_s, on_wait
        self.file = store.path(LEASE)
        self.local = isinstance(store.fs, pafs.LocalFileSystem)
        self.token = secrets.token_hex(8)
        self._started = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._made_root = False  # this lease created the directory: removed again if left empty

    def __enter__(self) -> Lease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # ---- acquire / release --------------------------------------------------------------

    def acquire(self) -> None:
        told = False
        while True:
            holder = self._try_acquire()
            if holder is None:
                break
            message = (
                f"{self.store.uri} is being written by {holder.describe(time.time())}; "
                f"wait for it to finish, or pass --wait to start when it does (a lease not "
                f"renewed for {self.stale_s:g} s, or whose process is gone, is taken over)"
            )
            if not self.wait:
                raise LeaseHeld(message)
            if self.on_wait is not None and not told:
                self.on_wait(f"waiting: {message.split('; ')[0]}")
                told = True
            time.sleep(WAIT_POLL_S)
        self._thread = threading.Thread(target=self._renew_loop, name="lease-renew", daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        current = self.holder()
        if current is not None and current.token == self.token:
            with contextlib.suppress(FileNotFoundError, OSError):
                self.store.fs.delete_file(self.file)
        if self._made_root:  # e.g. a launch refused by its preflight: leave no trace
            with contextlib.suppress(OSError):
                sel = pafs.FileSelector(self.store.path(), allow_not_found=True)
                if not self.store.fs.get_file_info(sel):
                    self.store.fs.delete_dir(self.store.path())

    def holder(self) -> Holder | None:
        """Who holds the lease now (None: nobody, or an unreadable lease file)."""
        try:
            with self.store.fs.open_input_stream(self.file) as f:
                data = json.loads(f.read().decode())
            return Holder(**data)
        except (FileNotFoundError, OSError, ValueError, TypeError):
            return None

    # ---- internals ----------------------------------------------------------------------

    def _record(self) -> bytes:
        me = Holder(this_host(), os.getpid(), self.command, self.token, self._started, time.time())
        return json.dumps(asdict(me)).encode()

    def _try_acquire(self) -> Holder | None:
        """None when this lease now holds the directory; else the live holder."""
        try:
            root = self.store.fs.get_file_info(self.store.path())
            if root.type == pafs.FileType.NotFound:
                self.store.fs.create_dir(self.store.path(), recursive=True)
                self._made_root = True
        except OSError as e:
            raise _unwritable(self.store.uri, e) from None
        current, present = self._look()
        if current is not None and not current.stale(time.time(), self.stale_s):
            return current
        damaged = current is None and present
        if damaged and self._fresh_unreadable():
            return self._unknown()  # damaged (or an object store's lease mid-write): wait
        if self.local:
            return self._acquire_local(current, damaged)
        return self._acquire_object_store()

    def _look(self) -> tuple[Holder | None, bool]:
        """(the holder, whether a lease file is there) from one consistent look: a lease that
        appears between reading and checking for the file is read again, never judged damaged."""
        current = self.holder()
        if current is not None:
            return current, True
        if self.store.fs.get_file_info(self.file).type != pafs.FileType.File:
            return None, False
        for _ in range(20):  # an object store's lease can be unreadable while it is written
            current = self.holder()
            if current is not None:
                return current, True
            time.sleep(0.05)
        return None, True

    def _acquire_local(self, stale: Holder | None, damaged: bool) -> Holder | None:
        """Create the lease; first take a ``stale`` holder's (or a ``damaged``) lease out of
        the way. Only a lease known to be stale or damaged is ever moved."""
        if stale is not None or damaged:
            now = self.holder()
            if stale is not None and (now is None or now.token != stale.token):
                return now or self._unknown()  # someone took it over since we looked
            aside = f"{self.file}.stale-{self.token}"
            try:
                os.rename(self.file, aside)  # one taker's rename wins
            except FileNotFoundError:
                pass  # another writer took it over first: try to create below
            else:
                moved = _read_holder(aside)
                if moved is not None and (stale is None or moved.token != stale.token):
                    # A live lease appeared between our look and our rename: put it back.
                    with contextlib.suppress(FileExistsError):
                        os.link(aside, self.file)
                    os.unlink(aside)
                    return moved
                os.unlink(aside)
        # Create it whole: write a private file, then hard-link it into place. link() fails if
        # the name exists (atomic, like O_EXCL), and no reader ever sees a half-written lease.
        tmp = f"{self.file}.new-{self.token}"
        try:
            with open(tmp, "wb") as f:
                f.write(self._record())
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, self.file)
        except FileExistsError:
            return self.holder() or self._unknown()
        except OSError as e:  # read-only mount, no permission, a file where the directory is
            raise _unwritable(self.store.uri, e) from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return None

    def _acquire_object_store(self) -> Holder | None:
        self._write()
        time.sleep(SETTLE_S)
        current = self.holder()
        if current is not None and current.token != self.token:
            return current
        return None

    def _fresh_unreadable(self) -> bool:
        info = self.store.fs.get_file_info(self.file)
        if info.type != pafs.FileType.File:
            return False
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        return time.time() - mtime <= self.stale_s

    def _unknown(self) -> Holder:
        now = time.time()
        return Holder("?", 0, "?", "?", now, now)

    def _write(self) -> None:
        tmp = f"{self.file}.tmp-{self.token}"
        with self.store.fs.open_output_stream(tmp) as out:
            out.write(self._record())
        self.store.fs.move(tmp, self.file)

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.renew_s):
            current = self.holder()
            if current is None or current.token != self.token:
                return  # taken over (we were frozen past STALE_S): nothing of ours to renew
            with contextlib.suppress(OSError):
                self._write()


def _unwritable(uri: str, e: OSError) -> UserError:
    reason = e.strerror or str(e)
    if os.path.isfile(uri):
        reason = "it is a file, not a directory"
    return UserError(
        f"cannot write to results directory {uri}: {reason}; choose another with results_dir=PATH"
    )


def _read_holder(path: str) -> Holder | None:
    try:
        with open(path, "rb") as f:
            return Holder(**json.loads(f.read().decode()))
    except (OSError, ValueError, TypeError):
        return None


@contextlib.contextmanager
def writer_lease(store: _Store, command: str, wait: bool = False, **kw: Any) -> Iterator[Lease]:
    """Hold the writer lease of ``store`` for the ``with`` block."""
    with Lease(store, command, wait=wait, **kw) as lease:
        yield lease
