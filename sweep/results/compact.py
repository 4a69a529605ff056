"""``orgsweep compact``: merge each table's part files into one, without changing content.

Many small Parquet files are the known failure mode of streaming writes. Compaction reads every
readable part of a table, writes their rows as one new part (atomically), then deletes exactly
the parts it read. Safe while a sweep is writing (new parts are left alone) and after a crash at
any point: the new part is announced by a ``.replaces`` list written before it appears, so
readers skip the old parts from the moment it exists (``sweep.results.store``), and the next
compaction finishes what an interrupted one left. The CLI holds the writer lease
(``sweep.lease``) while it compacts, so no other writer runs meanwhile: the ``.tmp`` files it
finds are leftovers of a crashed writer (a SIGKILL or a full disk mid-write) and are removed
(``Compacted.leftovers``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from sweep.results.schema import TABLES
from sweep.results.store import REPLACES, ResultStore


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


def finish_interrupted(store: ResultStore, table: str) -> None:
    """Complete what an interrupted compaction of ``table`` left: delete the parts a merged
    part replaces, or forget a merge whose part never appeared."""
    for merged, names in store.merges(table):
        if store.fs.get_file_info(merged).type == pafs.FileType.File:
            for name in names:
                path = store.path(table, name)
                if store.fs.get_file_info(path).type == pafs.FileType.File:
                    store.fs.delete_file(path)
        store.fs.delete_file(merged + REPLACES)


def compact(store: ResultStore, min_parts: int = 2) -> list[Compacted]:
    out = []
    for table in TABLES:
        finish_interrupted(store, table)
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
        new = store.write_part(table, merged, replaces=readable)
        for path in readable:
            store.fs.delete_file(path)
        store.fs.delete_file(f"{new}{REPLACES}")
        after = len(parts) - len(readable) + 1
        out.append(Compacted(table, len(parts), after, merged.num_rows, leftovers))
    return out
