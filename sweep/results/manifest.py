"""The manifest ``sweep.yaml``: what a results directory holds, read in one place.

``orgsweep launch`` writes it (``sweep.launch``): the sweep's name, its overrides, the resolved
config, package versions, the plan digest and ``schema_version`` (``sweep.results.schema``).
Every reader of a results directory goes through :func:`read_manifest`, so a missing or
damaged manifest is reported with the same message everywhere.
"""

from __future__ import annotations

from typing import Any, Literal, overload

import yaml

from sweep.errors import UserError
from sweep.results.store import MANIFEST, ResultStore

__all__ = ["MANIFEST", "not_a_results_dir", "read_manifest"]


def not_a_results_dir(uri: str) -> UserError:
    return UserError(
        f"{uri} has no {MANIFEST}: not an orgsweep results directory "
        "(start one with `orgsweep launch results_dir=...`)"
    )


@overload
def read_manifest(store: ResultStore, *, required: Literal[True] = ...) -> dict[str, Any]: ...
@overload
def read_manifest(store: ResultStore, *, required: bool) -> dict[str, Any] | None: ...
def read_manifest(store: ResultStore, *, required: bool = True) -> dict[str, Any] | None:
    """The parsed manifest of ``store``; when it is missing: a UserError if ``required``, else
    None. Invalid YAML is always a UserError naming the file."""
    text = store.read_text(MANIFEST)
    if text is None:
        if required:
            raise not_a_results_dir(store.uri)
        return None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise UserError(
            f"{store.uri}/{MANIFEST} is not valid YAML ({_yaml_problem(e)}); move it aside"
        ) from None
    if not isinstance(data, dict):
        raise UserError(f"{store.uri}/{MANIFEST} is not a mapping; move it aside")
    return data


def _yaml_problem(e: yaml.YAMLError) -> str:
    """What is wrong and where, on one line (PyYAML's own message quotes the text over several)."""
    if isinstance(e, yaml.MarkedYAMLError) and e.problem_mark is not None:
        mark = e.problem_mark
        return f"{e.problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(e).split())
