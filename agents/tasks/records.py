"""Task records (the rows of a task file) -> ``Task``, with one clear error per bad record.

A record has the columns ``orgsweep tasks export`` writes: ``task_id``, ``level``, ``domains``,
``title``, ``brief``, ``requirements`` (objects with ``id``, ``text``, ``kind``, ``phase``,
``depends_on``), ``stakeholders`` (objects with ``name``, ``interest``, ``constraint``),
``missing_info`` and ``content_hash``. Only ``level``, ``domains``, ``title``, ``brief`` and
``requirements`` (each with ``text`` and ``kind``) are required; ``task_id`` defaults to
``t-<hash>``, requirement ids to their position, phases to 1. A ``content_hash`` that is present
must match the content, which catches exported tasks edited by hand. Errors name the field as a
path (``requirements[2].kind``, list positions from 0).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agents.tasks.model import KINDS, LEVELS, Requirement, Stakeholder, Task, make_task

TASK_FIELDS = (
    "task_id",
    "level",
    "domains",
    "title",
    "brief",
    "requirements",
    "stakeholders",
    "missing_info",
    "content_hash",
)
REQUIREMENT_FIELDS = ("id", "text", "kind", "phase", "depends_on")
STAKEHOLDER_FIELDS = ("name", "interest", "constraint")
MAX_REQUIREMENTS = 200
_DOMAIN = re.compile(r"[a-z][a-z0-9_-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RecordError(ValueError):
    """A bad task record; the message names the field and says what it must be."""


def task_from_record(rec: Any) -> Task:
    """A validated ``Task`` from one record (a mapping); raises ``RecordError``."""
    if not isinstance(rec, Mapping):
        raise RecordError(f"expected an object with task fields, got {_kind(rec)}")
    _known(rec, TASK_FIELDS, "")
    level = rec.get("level")
    if level not in LEVELS:
        raise RecordError(f"field 'level' must be one of {', '.join(LEVELS)}, got {level!r}")
    domains = _list(rec, "domains", required=True)
    if not domains:
        raise RecordError("field 'domains' must list at least one domain")
    for i, d in enumerate(domains):
        if not isinstance(d, str) or not _DOMAIN.fullmatch(d):
            raise RecordError(
                f"field 'domains[{i}]' must be a lowercase name (letters, digits, '_' or '-'), "
                f"got {d!r}"
            )
        if d in domains[:i]:
            raise RecordError(f"field 'domains[{i}]' repeats {d!r}")
    title, brief = _text(rec, "title"), _text(rec, "brief")
    reqs = _requirements(_list(rec, "requirements", required=True))
    stakeholders = tuple(_stakeholder(s, i) for i, s in enumerate(_list(rec, "stakeholders")))
    missing = tuple(
        _text({"x": m}, "x", f"missing_info[{i}]") for i, m in enumerate(_list(rec, "missing_info"))
    )
    task_id = rec.get("task_id")
    if task_id is not None and (not isinstance(task_id, str) or not re.fullmatch(r"\S+", task_id)):
        raise RecordError(f"field 'task_id' must be a string without spaces, got {task_id!r}")
    task = make_task(
        level=level,
        domains=tuple(domains),
        title=title,
        brief=brief,
        requirements=reqs,
        stakeholders=stakeholders,
        missing_info=missing,
        task_id=task_id or None,
    )
    stored = rec.get("content_hash")
    if stored and stored != task.content_hash:
        raise RecordError(
            f"field 'content_hash' is {stored!r} but the content hashes to "
            f"{task.content_hash!r}: the task was changed after export; remove the field "
            "(it is recomputed)"
        )
    return task


def _kind(x: Any) -> str:
    return "null" if x is None else type(x).__name__


def _known(rec: Mapping[str, Any], valid: tuple[str, ...], where: str) -> None:
    for k in rec:
        if k not in valid:
            raise RecordError(f"unknown field '{where}{k}'; valid: {', '.join(valid)}")


def _list(rec: Mapping[str, Any], name: str, *, required: bool = False) -> list[Any]:
    v = rec.get(name)
    if v is None:
        if required:
            raise RecordError(f"field {name!r} is missing")
        return []
    if not isinstance(v, list | tuple):
        raise RecordError(f"field {name!r} must be a list, got {_kind(v)}")
    return list(v)


def _text(rec: Mapping[str, Any], key: str, path: str | None = None) -> str:
    path = path or key
    v = rec.get(key)
    if v is None:
        raise RecordError(f"field {path!r} is missing")
    if not isinstance(v, str) or not v.strip():
        raise RecordError(f"field {path!r} must be a non-empty string, got {v!r}")
    if _CONTROL.search(v):
        raise RecordError(
            f"field {path!r} must be one line without control characters (newline, tab)"
        )
    return v


def _int(rec: Mapping[str, Any], key: str, path: str, default: int) -> int:
    v = rec.get(key)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise RecordError(f"field {path!r} must be a whole number, got {v!r}")
    return v


def _requirements(items: list[Any]) -> tuple[Requirement, ...]:
    if not items:
        raise RecordError("field 'requirements' must list at least one requirement")
    if len(items) > MAX_REQUIREMENTS:
        raise RecordError(
            f"field 'requirements' has {len(items)} items; at most {MAX_REQUIREMENTS}"
        )
    out: list[Requirement] = []
    texts: dict[str, int] = {}
    for i, r in enumerate(items):
        where = f"requirements[{i}]"
        if not isinstance(r, Mapping):
            raise RecordError(f"field {where!r} must be an object, got {_kind(r)}")
        _known(r, REQUIREMENT_FIELDS, f"{where}.")
        rid = _int(r, "id", f"{where}.id", i + 1)
        if rid != i + 1:
            raise RecordError(
                f"field '{where}.id' must be {i + 1} (requirements are numbered 1, 2, 3, ... "
                f"in order), got {rid}"
            )
        text = _text(r, "text", f"{where}.text")
        if text in texts:
            raise RecordError(f"field '{where}.text' repeats requirements[{texts[text]}].text")
        texts[text] = i
        kind = r.get("kind")
        if kind not in KINDS:
            raise RecordError(f"field '{where}.kind' must be 'analysis' or 'action'")
        phase = _int(r, "phase", f"{where}.phase", 1)
        if phase < 1:
            raise RecordError(f"field '{where}.phase' must be >= 1, got {phase}")
        deps = _list(r, "depends_on")
        for d in deps:
            if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= i:
                raise RecordError(
                    f"field '{where}.depends_on' must list ids of earlier requirements "
                    f"({'1..' + str(i) if i else 'none for the first'}), got {d!r}"
                )
        out.append(Requirement(rid, text, kind, phase, tuple(sorted(set(deps)))))
    return tuple(out)


def _stakeholder(s: Any, i: int) -> Stakeholder:
    where = f"stakeholders[{i}]"
    if not isinstance(s, Mapping):
        raise RecordError(f"field {where!r} must be an object, got {_kind(s)}")
    _known(s, STAKEHOLDER_FIELDS, f"{where}.")
    name, interest, constraint = (_text(s, k, f"{where}.{k}") for k in STAKEHOLDER_FIELDS)
    return Stakeholder(name, interest, constraint)
