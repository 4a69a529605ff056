"""``orgsweep compact``: merge each table's part files into one, without changing content.

Many small Parquet files are the known failure mode of streaming writes. Compaction reads every
readable part of a table, writes their rows as one new part (atomically), then deletes exactly
the parts it read. Safe while a sweep is writing (new parts are left alone) and after a crash at
any point (a row briefly in two parts is read once: readers de-duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from analysis.schema import TABLES
from sweep.store import ResultStore


@dataclass(frozen=True)
class Compacted:
    table: str
    parts_before: int
    parts_after: int
    rows: int


def compact(store: ResultStore, min_parts: int = 2) -> list[Compacted]:
    out = []
    for table in TABLES:
        parts = store.parts(table)
        readable, tables = [], []
        for path in parts:
            try:
                tables.append(pq.read_table(path, filesystem=store.fs))
                readable.append(path)
            except (OSError, pa.ArrowException):
                continue  # left in place; the store warns when reading
        if len(readable) < min_parts:
            out.append(Compacted(table, len(parts), len(parts), sum(t.num_rows for t in tables)))
            continue
        schema = TABLES[table]
        merged = pa.concat_tables([t.select(schema.names).cast(schema) for t in tables])
        store.write_part(table, merged)
        for path in readable:
            store.fs.delete_file(path)
        out.append(Compacted(table, len(parts), len(parts) - len(readable) + 1, merged.num_rows))
    return out
