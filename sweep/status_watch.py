"""``orgsweep status`` with ``--json`` (the same facts as data) and ``--watch`` (refresh while
the launch runs; stops by itself once it is stopped or finished)."""

from __future__ import annotations

import io
import json
import time

from rich.console import Console

from sweep.status import status


def status_cmd(
    results_dir: str, con: Console, watch_s: float | None = None, as_json: bool = False
) -> int:
    if as_json:
        data = status(results_dir, Console(file=io.StringIO(), width=80))
        print(json.dumps(data, indent=2, default=str))
        return 0
    while True:
        if watch_s is not None and con.is_terminal:
            con.clear()
        data = status(results_dir, con)
        if watch_s is None or data.get("state") != "running":
            return 0
        time.sleep(max(watch_s, 0.5))
