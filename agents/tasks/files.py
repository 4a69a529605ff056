"""Task files: JSON Lines (``.jsonl``, ``.ndjson``) or Parquet (``.parquet``, ``.pq``).

``write_tasks`` is what ``orgsweep tasks export`` runs; ``load_tasks`` reads a user's file (a
``tasks=file`` source) and stops at the first bad task with one message naming the file, the line
(JSONL) or row (Parquet, from 1) and the field. ``draw_tasks`` picks a block's tasks of one level
from a loaded file. pyarrow is imported only for Parquet.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from agents.tasks.generator import paused_gc
from agents.tasks.model import Task
from agents.tasks.records import RecordError, task_from_record

JSONL = (".jsonl", ".ndjson")
PARQUET = (".parquet", ".pq")


class TaskFileError(ValueError):
    """A task file that cannot be used; the message says where and why."""


def task_format(path: str | Path) -> str:
    """``"jsonl"`` or ``"parquet"`` from the file name."""
    name = str(path).lower()
    if name.endswith(JSONL):
        return "jsonl"
    if name.endswith(PARQUET):
        return "parquet"
    raise TaskFileError(
        f"{path}: unsupported file type; use {', '.join(JSONL + PARQUET)} (by extension)"
    )


def arrow_schema() -> Any:
    """The Parquet schema of a task file (the export's columns)."""
    import pyarrow as pa

    req = pa.struct(
        [
            ("id", pa.int32()),
            ("text", pa.string()),
            ("kind", pa.string()),
            ("phase", pa.int32()),
            ("depends_on", pa.list_(pa.int32())),
        ]
    )
    stake = pa.struct(
        [("name", pa.string()), ("interest", pa.string()), ("constraint", pa.string())]
    )
    return pa.schema(
        [
            ("task_id", pa.string()),
            ("level", pa.string()),
            ("domains", pa.list_(pa.string())),
            ("title", pa.string()),
            ("brief", pa.string()),
            ("requirements", pa.list_(req)),
            ("stakeholders", pa.list_(stake)),
            ("missing_info", pa.list_(pa.string())),
            ("content_hash", pa.string()),
        ]
    )


def write_tasks(tasks: Sequence[Task], path: str | Path) -> None:
    """Write ``tasks`` to ``path`` (format by extension), atomically (temporary file + rename)."""
    fmt = task_format(path)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with paused_gc():
            if fmt == "jsonl":
                with open(tmp, "w", encoding="utf-8") as f:
                    f.writelines(
                        json.dumps(t.to_record(), ensure_ascii=False) + "\n" for t in tasks
                    )
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                records = [t.to_record() for t in tasks]
                pq.write_table(
                    pa.Table.from_pylist(records, schema=arrow_schema()), tmp, compression="zstd"
                )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_tasks(path: str | Path) -> list[Task]:
    """Every task of a JSONL or Parquet file, validated; raises ``TaskFileError`` naming the
    first bad line or row and field, a repeated task id, or a repeated task."""
    fmt = task_format(path)
    if not Path(path).is_file():
        raise TaskFileError(f"{path}: file not found")
    with paused_gc():
        return _validated(path, fmt)


def _validated(path: str | Path, fmt: str) -> list[Task]:
    unit = "line" if fmt == "jsonl" else "row"
    out: list[Task] = []
    where_id: dict[str, int] = {}
    where_hash: dict[str, int] = {}
    for n, rec in _jsonl(path) if fmt == "jsonl" else _parquet(path):
        try:
            task = task_from_record(rec)
        except RecordError as e:
            raise TaskFileError(f"{path} {unit} {n}: {e}") from None
        if task.task_id in where_id:
            first = where_id[task.task_id]
            raise TaskFileError(
                f"{path} {unit} {n}: task_id {task.task_id!r} repeats {unit} {first}"
            )
        if task.content_hash in where_hash:
            raise TaskFileError(
                f"{path} {unit} {n}: the same task as {unit} {where_hash[task.content_hash]} "
                "(identical content)"
            )
        where_id[task.task_id] = where_hash[task.content_hash] = n
        out.append(task)
    if not out:
        raise TaskFileError(f"{path}: no tasks in the file")
    return out


def _jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise TaskFileError(
                    f"{path} line {n}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column "
                    f"{e.start + 1}); save the file as UTF-8"
                ) from None
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                raise TaskFileError(
                    f"{path} line {n}: not valid JSON ({e.msg}, column {e.colno})"
                ) from None


def _parquet(path: str | Path) -> Iterable[tuple[int, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as e:
        raise TaskFileError(f"{path}: not a readable Parquet file ({e})") from None
    rows = table.to_pylist()
    # Parquet has no "absent": a null optional column counts as not given.
    return enumerate(({k: v for k, v in r.items() if v is not None} for r in rows), 1)


def draw_tasks(
    pool: Sequence[Task], n: int, *, seed: int, namespace: str, shuffle: bool = True
) -> list[Task]:
    """``n`` different tasks of ``pool``. With ``shuffle``: the ``n`` whose BLAKE2b of
    (seed, namespace, content hash) sort first, a seeded sample that does not depend on the
    order of lines in the file; else the first ``n`` in file order. The caller checks
    ``n <= len(pool)``."""
    if not shuffle:
        return list(pool[:n])
    salt = f"{seed}/{namespace}/".encode()

    def rank(t: Task) -> bytes:
        return hashlib.blake2b(salt + t.content_hash.encode(), digest_size=8).digest()

    return sorted(pool, key=rank)[:n]
