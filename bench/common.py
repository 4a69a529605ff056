"""What every benchmark shares: machine load, medians with min-max, and the JSON results log.

Each benchmark appends one record per invocation to ``bench/results/<name>.json`` (a JSON list),
holding the machine, the load average before and after, the command line, the raw per-run
figures and their medians.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def load_avg() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages (what ``uptime`` prints)."""
    return os.getloadavg()


def uptime_line() -> str:
    one, five, fifteen = load_avg()
    return f"load average: {one:.2f}, {five:.2f}, {fifteen:.2f}"


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by this process, or by process ``pid`` (read
    from ``/proc``; nan where that is not readable)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def machine() -> dict[str, Any]:
    mem = None
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
            mem = round(kb / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line for line in f if line.startswith("model name")).split(":", 1)[1]
    except (OSError, StopIteration):
        pass
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu": cpu.strip(),
        "mem_gib": mem,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def stats(values: Iterable[float]) -> dict[str, float]:
    """Median with min and max (the form every figure is reported in)."""
    v = [float(x) for x in values if x is not None]
    if not v:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def fmt(s: Mapping[str, float], unit: str = "", digits: int = 3) -> str:
    """``median (min-max) unit`` for a ``stats`` dict."""
    if not s.get("n"):
        return "n/a"
    f = f"{{:.{digits}g}}"
    one = s["n"] == 1 or s["min"] == s["max"]
    rng = "" if one else f" ({f.format(s['min'])}-{f.format(s['max'])})"
    return f"{f.format(s['median'])}{rng}{(' ' + unit) if unit else ''}"


def summarise(runs: Sequence[Mapping[str, Any]], keys: Iterable[str]) -> dict[str, dict]:
    """Median/min/max of each numeric key over the runs."""
    return {k: stats(r[k] for r in runs if isinstance(r.get(k), int | float)) for k in keys}


def record(name: str, payload: Mapping[str, Any]) -> Path:
    """Append one record to ``bench/results/<name>.json`` and return the file."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    try:
        log = json.loads(path.read_text()) if path.exists() else []
    except json.JSONDecodeError:
        log = []
    log.append(
        {
            "benchmark": name,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, "-m", "bench", *sys.argv[1:]]),
            "machine": machine(),
            **payload,
        }
    )
    path.write_text(json.dumps(log, indent=1, default=str) + "\n")
    return path


class Timer:
    """``with Timer() as t: ...``; ``t.s`` is the elapsed wall time in seconds."""

    def __enter__(self) -> Timer:
        self._t0 = time.perf_counter()
        self.s = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = time.perf_counter() - self._t0


def say(*parts: object) -> None:
    print(*parts, flush=True)
