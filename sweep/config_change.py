"""Relaunching into a results directory: is the stored sweep the same experiment?

Committed episodes that are not in the new plan mean a result-affecting change (another
mission, seed, model revision...). The check names the config keys that differ, leaving out
runtime knobs that never change a result (paths, cluster, limit, backend route).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from sweep.errors import UserError

RUNTIME_KEYS = (
    "results_dir", "cluster", "store_prompts", "sweep.limit", "backend", "allow_unpinned"
)  # fmt: skip
OnConfigChange = Literal["warn", "refuse"]


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def changed_keys(old: Any, new: Any) -> list[str]:
    """Config keys whose values differ, runtime knobs (paths, cluster, limit) left out."""
    a, b = _flatten(old or {}), _flatten(new or {})
    keys = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    return sorted(k for k in keys if not any(k == r or k.startswith(r + ".") for r in RUNTIME_KEYS))


def check_config_change(
    uri: str,
    stored: Mapping[str, Any] | None,
    committed: Iterable[str],
    planned: Iterable[str],
    config: Any,
    mode: OnConfigChange,
    warn: Callable[[str], None],
) -> None:
    """Warn (``mode="warn"``) or refuse (a UserError) when committed episodes of the stored
    sweep (manifest ``stored``, None when there is none) are not in this plan."""
    if stored is None:
        return
    stale = len(set(committed) - set(planned))
    if not stale:
        return
    changed = changed_keys(stored.get("config"), config)
    more = f" (+{len(changed) - 8} more)" if len(changed) > 8 else ""
    what = f"; changed: {', '.join(changed[:8])}{more}" if changed else ""
    msg = (
        f"this config differs from the sweep stored in {uri}: {stale} committed "
        f"episode(s) are not in this plan (stale; left out of analysis){what}"
    )
    if mode == "refuse":
        raise UserError(
            f"{msg}. Use another results_dir, or --on-config-change=warn to add to it anyway"
        )
    warn(msg)
