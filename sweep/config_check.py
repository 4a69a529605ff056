"""Type, range and unknown-key checks of a composed config, before any value is converted.

Hydra parses override values by their look (``seed=abc`` is the string ``'abc'``) and lets
``+key=value`` add any key, so ``sweep.config.build`` asks this module first: every scalar key in
``SCALARS`` (and every ``cluster`` field, typed by ``ClusterConfig``) is checked against its
expected type and range, and a key no schema knows is rejected with a ``difflib`` "did you mean".
Each check appends one message per problem to ``problems``; none raises, so a config with many
problems reports all of them at once.
"""

from __future__ import annotations

import difflib
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scalar:
    kind: str  # int | float | bool | str | path
    optional: bool = False
    low: float | None = None
    high: float | None = None


# Keys of the top level, `sweep` and `agent` (other groups check their own keys when built).
SCALARS: dict[str, Scalar] = {
    "seed": Scalar("int"),
    "mission": Scalar("str"),
    "results_dir": Scalar("path"),
    "store_prompts": Scalar("bool"),
    "allow_unpinned": Scalar("bool"),
    "prompt_version": Scalar("str"),
    "agent.temperature": Scalar("float", low=0.0, high=2.0),
    "agent.max_tokens": Scalar("int", low=1),
    "sweep.name": Scalar("path"),
    "sweep.limit": Scalar("int", optional=True, low=0),
}
GROUPS = ("sweep", "backend", "judge", "tasks", "cluster", "models", "protocols", "agent", "cost")
SWEEP_KEYS = ("name", "limit", "blocks")

_EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "path": "a non-empty string",
}


def unknown_key(key: str, valid: Iterable[str]) -> str:
    """The message for a key no schema knows: the nearest valid key, then all of them."""
    valid = sorted(valid)
    prefix, _, last = key.rpartition(".")
    full = [f"{prefix}.{v}" if prefix else v for v in valid]
    close = difflib.get_close_matches(last, valid, n=1, cutoff=0.6)
    hint = f" (did you mean {full[valid.index(close[0])]!r}?)" if close else ""
    where = f" in {prefix}" if prefix else ""
    return f"unknown key {key!r}{hint}; valid{where}: {', '.join(valid)}"


def type_problem(key: str, value: Any, spec: Scalar) -> str | None:
    """One message when ``value`` is not of ``spec``'s type or outside its range."""
    if value is None:
        return None if spec.optional else f"{key}: missing; expected {_EXPECTED[spec.kind]}"
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "path": isinstance(value, str) and value.strip() != "",
    }[spec.kind]
    expected = _EXPECTED[spec.kind] + (" or null" if spec.optional else "")
    if not ok:
        return f"{key}={_show(value)}: expected {expected}"
    below = spec.low is not None and value < spec.low
    if below or (spec.high is not None and value > spec.high):
        lo = "" if spec.low is None else f"{spec.low:g}"
        hi = "" if spec.high is None else f"{spec.high:g}"
        rng = f"in {lo}..{hi}" if lo and hi else f">= {lo}" if lo else f"<= {hi}"
        return f"{key}={_show(value)}: expected {_EXPECTED[spec.kind]} {rng}"
    return None


def _show(value: Any) -> str:
    return "''" if value == "" else str(value) if not isinstance(value, str) else repr(value)


def check_scalars(raw: Mapping[str, Any], problems: list[str]) -> None:
    """Types and ranges of ``SCALARS``, and the keys of the top level, ``sweep`` and ``agent``."""
    top = [*GROUPS, *(k for k in SCALARS if "." not in k)]
    for k in sorted(set(raw) - set(top)):
        problems.append(unknown_key(k, top))
    for prefix, valid in (("sweep", SWEEP_KEYS), ("agent", ("temperature", "max_tokens"))):
        group = raw.get(prefix)
        if isinstance(group, Mapping):
            for k in sorted(set(group) - set(valid)):
                problems.append(unknown_key(f"{prefix}.{k}", valid))
    for key, spec in SCALARS.items():
        value = _get(raw, key)
        if value is _MISSING:
            continue
        if (p := type_problem(key, value, spec)) is not None:
            problems.append(p)


_MISSING = object()


def _get(raw: Mapping[str, Any], dotted: str) -> Any:
    node: Any = raw
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def dataclass_problems(
    where: str, d: Mapping[str, Any], cls: type, ranges: Mapping[str, Scalar] | None = None
) -> list[str]:
    """Type problems of ``d``'s values against the annotations of dataclass ``cls``
    (``int``, ``float``, ``bool``, ``str``, each optionally ``| None``)."""
    hints = typing.get_type_hints(cls)
    out = []
    for k, v in d.items():
        spec = (ranges or {}).get(k) or _scalar(hints.get(k))
        if spec is not None and (p := type_problem(f"{where}.{k}", v, spec)) is not None:
            out.append(p)
    return out


def _scalar(hint: Any) -> Scalar | None:
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    optional = type(None) in args
    base = [a for a in args if a is not type(None)]
    names: dict[Any, str] = {int: "int", float: "float", bool: "bool", str: "str"}
    if len(base) != 1 or base[0] not in names:
        return None
    return Scalar(names[base[0]], optional=optional)


def rejected_override(message: str, overrides: list[str]) -> tuple[str, list[str]] | None:
    """For Hydra's "Could not override 'K'" (a key the config lacks): K and the overrides
    without it, so composition can go on and report the other problems too."""
    m = re.match(r"Could not override '([^']+)'", message)
    if m is None:
        return None
    key = m.group(1)
    rest = [o for o in overrides if o.split("=", 1)[0] != key]
    return (key, rest) if len(rest) < len(overrides) else None


def unknown_override(key: str, raw: Mapping[str, Any]) -> str:
    """The message for an override of a key the composed config lacks."""
    prefix, _, _ = key.rpartition(".")
    node = _get(raw, prefix) if prefix else raw
    valid = sorted(node) if isinstance(node, Mapping) else []
    return unknown_key(key, valid)
