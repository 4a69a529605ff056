"""Parquet key-value metadata of part files: what wrote them (docs/design/storage.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any


def part_metadata(runs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Parquet key-value metadata for a commit's part files: its rows' backends and orgsweep's
    version."""
    backends = sorted({str(r["backend"]) for r in runs if r.get("backend")})
    try:
        version = metadata.version("orgsweep")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return {"orgsweep.version": version, "orgsweep.backend": ",".join(backends) or "unknown"}
