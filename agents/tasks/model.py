"""The task data model and its content hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

LEVELS = ("L1", "L2", "L3", "L4")


@dataclass(frozen=True)
class Requirement:
    """One numbered facet a complete answer covers (rendered ``R<id>``)."""

    id: int
    text: str
    kind: str = "analysis"  # "analysis" | "action"
    phase: int = 1
    depends_on: tuple[int, ...] = ()


@dataclass(frozen=True)
class Stakeholder:
    name: str
    interest: str
    constraint: str


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
        d = asdict(self)
        d.pop("task_id")
        d.pop("content_hash")
        return d

    def to_record(self) -> dict[str, Any]:
        d = asdict(self)
        d["domains"] = list(self.domains)
        return d


def content_hash(content: dict[str, Any]) -> str:
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
    draft = Task("", level, domains, title, brief, requirements, stakeholders, missing_info)
    h = content_hash(draft.content())
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
