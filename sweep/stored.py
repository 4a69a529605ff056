"""The sweep stored in a results directory, rebuilt one way for resume, status and rescore."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sweep.config import SweepConfig, build, compose
from sweep.results.manifest import read_manifest
from sweep.results.store import ResultStore


@dataclass(frozen=True)
class StoredSweep:
    results_dir: str
    manifest: dict[str, Any]
    overrides: tuple[str, ...]  # the launch's overrides, ``results_dir=`` left out

    def launch_overrides(self, extra: Sequence[str] = ()) -> list[str]:
        """The stored overrides, this results directory, then ``extra`` (later ones win)."""
        return [*self.overrides, f"results_dir={self.results_dir}", *extra]

    def compose(self, extra: Sequence[str] = ()) -> SweepConfig:
        """The stored overrides composed again with ``extra``, without ``sweep.limit``."""
        typed, _ = build(compose(self.launch_overrides(extra)))
        return dataclasses.replace(typed, limit=None)

    def as_run(self) -> SweepConfig:
        """The config the sweep ran with: the resolved one in the manifest (immune to later
        edits of conf/), else its overrides composed again; without ``sweep.limit``."""
        if not self.manifest.get("config"):
            return self.compose()
        from omegaconf import OmegaConf

        typed, _ = build(OmegaConf.create(self.manifest["config"]))
        return dataclasses.replace(typed, limit=None)


def stored_config(results_dir: str) -> StoredSweep:
    """The sweep of ``results_dir`` (a UserError when it has no readable manifest)."""
    manifest = read_manifest(ResultStore(results_dir))
    stored = [str(o) for o in manifest.get("overrides") or []]
    return StoredSweep(
        results_dir, manifest, tuple(o for o in stored if not o.startswith("results_dir="))
    )
