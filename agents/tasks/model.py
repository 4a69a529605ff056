"""The task data model and its content hash.

``content_hash`` = the first 16 hex digits of the SHA-256 of the task's canonical JSON: the record
of ``Task.to_record()`` without ``task_id`` and ``content_hash``, dumped with sorted keys, no
spaces and UTF-8 text (``json.dumps(..., sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``). Anyone can recompute it from an exported record. ``canonical_json``
writes that exact string by hand because ``json.dumps`` of the nested dicts was most of the cost
of generating 25,000 tasks; a test checks the two agree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

LEVELS = ("L1", "L2", "L3", "L4")
KINDS = ("analysis", "action")

_enc = json.encoder.encode_basestring  # type: ignore[attr-defined]  # the ensure_ascii=False encoder


@dataclass(frozen=True)
class Requirement:
    """One numbered facet a complete answer covers (rendered ``R<id>``)."""

    id: int
    text: str
    kind: str = "analysis"  # "analysis" | "action"
    phase: int = 1
    depends_on: tuple[int, ...] = ()

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "kind": self.kind,
            "phase": self.phase,
            "depends_on": list(self.depends_on),
        }


@dataclass(frozen=True)
class Stakeholder:
    """An L4 party: what it wants and the hard constraint it imposes (they conflict)."""

    name: str
    interest: str
    constraint: str

    def to_record(self) -> dict[str, Any]:
        return {"name": self.name, "interest": self.interest, "constraint": self.constraint}


@dataclass(frozen=True)
class Task:
    task_id: str
    level: str
    domains: tuple[str, ...]
    title: str
    brief: str
    requirements: tuple[Requirement, ...]
    stakeholders: tuple[Stakeholder, ...] = ()
    missing_info: tuple[str, ...] = ()
    content_hash: str = field(default="", compare=False)

    def content(self) -> dict[str, Any]:
        """Everything a solver reads; the id and hash are derived from it."""
        return {
            "level": self.level,
            "domains": list(self.domains),
            "title": self.title,
            "brief": self.brief,
            "requirements": [r.to_record() for r in self.requirements],
            "stakeholders": [s.to_record() for s in self.stakeholders],
            "missing_info": list(self.missing_info),
        }

    def to_record(self) -> dict[str, Any]:
        """The export / task-file record (``agents.tasks.files`` reads it back)."""
        return {"task_id": self.task_id, **self.content(), "content_hash": self.content_hash}


def canonical_json(
    level: str,
    domains: tuple[str, ...],
    title: str,
    brief: str,
    requirements: tuple[Requirement, ...],
    stakeholders: tuple[Stakeholder, ...],
    missing_info: tuple[str, ...],
) -> str:
    """``json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``,
    written directly (keys in sorted order at every level)."""
    reqs = ",".join(
        f'{{"depends_on":[{",".join(map(str, r.depends_on))}],"id":{r.id},'
        f'"kind":{_enc(r.kind)},"phase":{r.phase},"text":{_enc(r.text)}}}'
        for r in requirements
    )
    stakes = ",".join(
        f'{{"constraint":{_enc(s.constraint)},"interest":{_enc(s.interest)},"name":{_enc(s.name)}}}'
        for s in stakeholders
    )
    return (
        f'{{"brief":{_enc(brief)},"domains":[{",".join(map(_enc, domains))}],'
        f'"level":{_enc(level)},"missing_info":[{",".join(map(_enc, missing_info))}],'
        f'"requirements":[{reqs}],"stakeholders":[{stakes}],"title":{_enc(title)}}}'
    )


def content_hash(content: dict[str, Any]) -> str:
    """The hash of a content dict (``Task.content()``); ``make_task`` computes the same value."""
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def make_task(
    *,
    level: str,
    domains: tuple[str, ...],
    title: str,
    brief: str,
    requirements: tuple[Requirement, ...],
    stakeholders: tuple[Stakeholder, ...] = (),
    missing_info: tuple[str, ...] = (),
    task_id: str | None = None,
) -> Task:
    """Build a task whose ``content_hash`` (and default id) derive from its content."""
    blob = canonical_json(level, domains, title, brief, requirements, stakeholders, missing_info)
    h = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return Task(
        task_id or f"t-{h[:12]}",
        level,
        domains,
        title,
        brief,
        requirements,
        stakeholders,
        missing_info,
        h,
    )
