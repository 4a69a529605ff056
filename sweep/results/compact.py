"""``orgsweep compact``: merge each table's part files into one, without changing content.

Many small Parquet files are the known failure mode of streaming writes. Compaction reads every
readable part of a table, writes their rows as one new part (atomically), then deletes exactly
the parts it read. Safe while a sweep is writing (new parts are left alone) and after a crash at
any point: the new part is announced by a ``.replaces`` list written before it appears, so
readers skip the old parts from the moment it exists (``sweep.results.store``), and the next
compaction finishes what an interrupted one left. The CLI holds the writer lease
(``sweep.lease``) while it compacts, so no other writer runs meanwhile: the ``.tmp`` files it
finds are leftovers of a crashed writer (a SIGKILL or a full disk mid-write) and are removed
(``Compacted.leftovers``). Readers never crash on a concurrent compaction: the parts it merged
stay on disk, unlisted, for ``GRACE_S`` and are deleted by the first compaction after that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from sweep.results.schema import TABLES
from sweep.results.store import REPLACES, ResultStore

# Replaced parts stay on disk this long after a merge, for readers that listed them before the
# merged part appeared (a lazy scan is read when collected, possibly minutes later).
GRACE_S = 600.0


@dataclass(frozen=True)
class Compacted:
    table: str
    parts_before: int
    parts_after: int
    rows: int
    leftovers: int = 0  # crashed writers' .tmp files removed


def remove_leftovers(store: ResultStore, table: str) -> int:
    """Delete ``table``'s temporary files (call only while holding the writer lease)."""
    sel = pafs.FileSelector(store.path(table), allow_not_found=True)
    tmp = [i.path for i in store.fs.get_file_info(sel) if i.path.endswith(".tmp")]
    for path in tmp:
        store.fs.delete_file(path)
    return len(tmp)


def replaces_age(store: ResultStore, merged: str, now: float) -> float:
    """Seconds since the ``.replaces`` list of the merged part ``merged`` was written (inf when
    the filesystem gives no time): a merge's replaced parts are deleted past ``GRACE_S``."""
    info = store.fs.get_file_info(merged + REPLACES)
    return now - info.mtime.timestamp() if info.mtime is not None else float("inf")


def finish_interrupted(store: ResultStore, table: str, grace_s: float = 0.0) -> None:
    """Complete what an earlier compaction of ``table`` left: delete the parts a merged part
    replaces once its ``.replaces`` list is ``grace_s`` old (readers that listed the old parts
    before the merged part appeared may still be reading them), or forget a merge whose part
    never appeared (a crash before it was moved into place)."""
    now = time.time()
    for merged, names in store.merges(table):
        if store.fs.get_file_info(merged).type == pafs.FileType.File:
            if replaces_age(store, merged, now) < grace_s:
                continue
            for name in names:
                path = store.path(table, name)
                if store.fs.get_file_info(path).type == pafs.FileType.File:
                    store.fs.delete_file(path)
        store.fs.delete_file(merged + REPLACES)


def compact(store: ResultStore, min_parts: int = 2, grace_s: float = GRACE_S) -> list[Compacted]:
    """Merge each table's readable parts into one. The parts merged are deleted by the first
    compaction at least ``grace_s`` later (0: now), so a reader listing files meanwhile never
    finds one gone; until then they are on disk but no longer listed (module docstring)."""
    out = []
    for table in TABLES:
        finish_interrupted(store, table, grace_s)
        leftovers = remove_leftovers(store, table)
        parts = store.parts(table)
        readable, tables = [], []
        for path in parts:  # an unreadable part is left in place (read_part warns)
            if (t := store.read_part(path, TABLES[table])) is not None:
                readable.append(path)
                tables.append(t)
        if len(readable) < min_parts:
            rows = sum(t.num_rows for t in tables)
            out.append(Compacted(table, len(parts), len(parts), rows, leftovers))
            continue
        merged = pa.concat_tables(tables)
        store.write_part(table, merged, replaces=readable)
        if grace_s <= 0:
            finish_interrupted(store, table)
        after = len(parts) - len(readable) + 1
        out.append(Compacted(table, len(parts), after, merged.num_rows, leftovers))
    return out
