"""``orgsweep view``: a local read-only web app over a results directory (overview, runs
table, episode pages). ``serve`` is the entry point; see ``analysis.view.server``."""

from __future__ import annotations

from typing import Any


def serve(results_dir: str, port: int = 0, host: str = "127.0.0.1") -> int:
    """Serve ``results_dir`` at http://HOST:PORT/ until Ctrl-C (imports aiohttp lazily)."""
    from analysis.view.server import serve as run

    return run(results_dir, port=port, host=host)


__all__: list[Any] = ["serve"]
