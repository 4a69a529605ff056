"""``orgsweep compact --drop-stale``: remove the rows of episodes not in the sweep's plan.

Stale episodes (committed under a plan that a result-affecting change, accepted with
``--on-config-change=warn``, replaced) are left out of analysis but kept on disk; this deletes
them on request. Each table's parts that hold stale rows are rewritten as one part of the kept
rows, announced by a ``.replaces`` list exactly as ``orgsweep compact`` does
(``sweep.results.store``), so a reader sees either the old parts or the new one, never both or
neither. ``runs`` goes first: an episode is committed by its ``runs`` rows, so a crash part-way
leaves at worst stale rows of other tables that no reader joins, and rerunning finishes the job.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from sweep.errors import UserError
from sweep.results.compact import finish_interrupted
from sweep.results.schema import TABLES
from sweep.results.store import PLAN, REPLACES, ResultStore


@dataclass(frozen=True)
class Dropped:
    table: str
    rows_dropped: int
    rows_kept: int


def drop_stale(store: ResultStore) -> list[Dropped]:
    ids = store.read_plan()
    if ids is None:
        raise UserError(
            f"{store.uri} has no {PLAN}: launch (or resume) it once with this orgsweep so the "
            "plan is stored, then drop stale rows"
        )
    keep = pa.array(ids, pa.string())
    order = ["runs", *(t for t in TABLES if t != "runs")]
    return [_drop(store, table, keep) for table in order]


def _drop(store: ResultStore, table: str, keep: pa.Array) -> Dropped:
    finish_interrupted(store, table)
    paths, kept, dropped = [], [], 0
    for path in store.parts(table):
        t = store.read_part(path, TABLES[table])
        if t is None:  # unreadable: left alone (read_part warns)
            continue
        mask = pc.is_in(t.column("episode_id"), value_set=keep)
        k = t.filter(mask)
        if k.num_rows < t.num_rows:
            paths.append(path)
            kept.append(k)
            dropped += t.num_rows - k.num_rows
    if not paths:
        return Dropped(table, 0, 0)
    rows = pa.concat_tables(kept)
    new = store.write_part(table, rows, replaces=paths)  # None: every row was stale
    for path in paths:
        store.fs.delete_file(path)
    if new is not None:
        store.fs.delete_file(f"{new}{REPLACES}")
    return Dropped(table, dropped, rows.num_rows)
