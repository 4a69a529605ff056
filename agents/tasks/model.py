"""The task data model and its content hash.

``content_hash`` = the first 16 hex digits of the SHA-256 of ``content_text``: every content
field in a fixed order: level, domains, title, brief, the requirement texts, the requirement
structure (each requirement's id, kind, phase and dependencies), the stakeholders and the
missing information. Fields are separated by ASCII US (0x1F), items by RS (0x1E) and sections
by GS (0x1D). No field may contain an ASCII control character (the task-file loader rejects
them and the generator never writes them), so the encoding is unambiguous. The structure is a
section of its own so that the generator can reuse it per skeleton (``generator.py``); sorted
canonical JSON cost more than generating the task.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any

LEVELS = ("L1", "L2", "L3", "L4")
KINDS = ("analysis", "action")
_new = object.__new__


def _fields(obj: Any) -> dict[str, Any]:
    """A dataclass's fields by name, in order (shallow: ``to_record`` converts the tuples)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


@dataclass(frozen=True)
class Requirement:
    """One numbered facet a complete answer covers (rendered ``R<id>``)."""

    id: int
    text: str
    kind: str = "analysis"  # "analysis" | "action"
    phase: int = 1
    depends_on: tuple[int, ...] = ()

    def to_record(self) -> dict[str, Any]:
        return {**_fields(self), "depends_on": list(self.depends_on)}


@dataclass(frozen=True)
class Stakeholder:
    """An L4 party: what it wants and the hard constraint it imposes (they conflict)."""

    name: str
    interest: str
    constraint: str

    def to_record(self) -> dict[str, Any]:
        return _fields(self)


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


def structure_text(requirements: tuple[Requirement, ...]) -> str:
    """The requirement-structure section of ``content_text``."""
    return "\x1e".join(
        [
            f"{r.id}\x1f{r.kind}\x1f{r.phase}\x1f{','.join(map(str, r.depends_on))}"
            for r in requirements
        ]
    )


def content_text(task: Task, structure: str | None = None) -> str:
    """The exact text ``content_hash`` hashes (see the module docstring): ``task``'s content
    fields (its id and stored hash aside); ``structure`` is ``structure_text(requirements)``
    when the caller already has it."""
    if structure is None:
        structure = structure_text(task.requirements)
    stakes = "\x1e".join([f"{s.name}\x1f{s.interest}\x1f{s.constraint}" for s in task.stakeholders])
    return "\x1d".join(
        (
            task.level,
            "\x1e".join(task.domains),
            task.title,
            task.brief,
            "\x1e".join([r.text for r in task.requirements]),
            structure,
            stakes,
            "\x1e".join(task.missing_info),
        )
    )


def content_hash(task: Task, structure: str | None = None) -> str:
    """The hash of ``task``'s content (whatever its stored ``content_hash`` says)."""
    return hashlib.sha256(content_text(task, structure).encode()).hexdigest()[:16]


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
    structure: str | None = None,
) -> Task:
    """Build a task whose ``content_hash`` (and default id) derive from its content.
    ``structure`` (= ``structure_text(requirements)``) lets the generator skip recomputing it."""
    task = _new(Task)
    task.__dict__.update(  # the frozen dataclass's __init__ without its per-field setattr calls
        level=level,
        domains=domains,
        title=title,
        brief=brief,
        requirements=requirements,
        stakeholders=stakeholders,
        missing_info=missing_info,
    )
    h = content_hash(task, structure)
    task.__dict__.update(task_id=task_id or f"t-{h[:12]}", content_hash=h)
    return task
