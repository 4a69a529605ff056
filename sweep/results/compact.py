"""``orgsweep compact``: merge each table's part files into one, without changing content.

Many small Parquet files are the known failure mode of streaming writes. Compaction reads every
readable part of a table, writes their rows as one new part (atomically), then deletes exactly
the parts it read. Safe while a sweep is writing (new parts are left alone) and after a crash at
any point: the new part is announced by a ``.replaces`` list written before it appears, so
readers skip the old parts from the moment it exists (``sweep.results.store``), and the next compaction
finishes what an interrupted one left. Run one compaction at a time per results directory.
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
        parts = store.parts(table)
        readable, tables = [], []
        for path in parts:  # an unreadable part is left in place (read_part warns)
            if (t := store.read_part(path, TABLES[table])) is not None:
                readable.append(path)
                tables.append(t)
        if len(readable) < min_parts:
            out.append(Compacted(table, len(parts), len(parts), sum(t.num_rows for t in tables)))
            continue
        merged = pa.concat_tables(tables)
        new = store.write_part(table, merged, replaces=readable)
        for path in readable:
            store.fs.delete_file(path)
        store.fs.delete_file(f"{new}{REPLACES}")
        out.append(Compacted(table, len(parts), len(parts) - len(readable) + 1, merged.num_rows))
    return out
