"""The result store: Parquet part files committed atomically, on any pyarrow filesystem.

Layout under the results directory (a local path or a URI such as ``s3://b/p``, ``file:///p``,
``memory://p``): ``sweep.yaml`` (manifest), and ``runs/``, ``agents/``, ``transcripts/`` holding
``part-*.parquet`` files. A part is written under a ``.tmp`` name and moved into place, so readers
never see half a file. An episode is committed when its ``runs`` rows exist; they are written
after its other rows (``sweep.results.schema.WRITE_ORDER``).

A part that merges others (``orgsweep compact``) is announced by a ``<part>.replaces`` file
listing the parts it replaces, written before the part is moved into place and deleted after
them: while both the merged part and a replaced one exist (a crash in between), readers skip the
replaced one, so no row is ever read twice.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from sweep.errors import UserError
from sweep.results.metadata import part_metadata
from sweep.results.schema import TABLES, WRITE_ORDER
from sweep.results.verify import COUNTED, incomplete, stamp_counts

MANIFEST = "sweep.yaml"
REPLACES = ".replaces"  # suffix of a merged part's list of the parts it replaces
PLAN = "plan.parquet"  # the full plan's episode ids (no sweep.limit), written by launch


class StoreWarning(UserWarning):
    pass


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the root path inside it."""
    if "://" not in uri:
        import os

        return pafs.LocalFileSystem(), os.path.abspath(uri)
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
        return fs, path
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        arrow = str(e)  # a scheme pyarrow does not know: fsspec may
    except OSError as e:  # pyarrow knows the scheme and says what failed (credentials, region)
        raise UserError(f"cannot open results directory {uri!r}: {e}") from None
    try:
        import fsspec
    except ImportError:
        raise UserError(
            f"cannot open {uri!r}: {arrow}; for other filesystems install fsspec"
        ) from None
    try:
        ffs, path = fsspec.core.url_to_fs(uri)
    except (ValueError, ImportError) as e:
        raise UserError(f"cannot open results directory {uri!r}: {arrow}; fsspec: {e}") from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(ffs)), path


@dataclass(frozen=True)
class Committed:
    status: str  # ok | failed
    attempt: int


@dataclass(frozen=True)
class PartProblem:
    """Why a part file is skipped: ``unreadable`` (damaged) or ``foreign`` (another table's,
    another program's, or a column of another type)."""

    kind: str
    problem: str


class ResultStore:
    def __init__(self, uri: str):
        self.uri = uri
        self.fs, self.root = resolve(uri)

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def exists(self) -> bool:
        info = self.fs.get_file_info(self.root)
        return info.type == pafs.FileType.Directory

    # ---- writing ------------------------------------------------------------------------

    def write_part(
        self,
        table: str,
        rows: list[dict[str, Any]] | pa.Table,
        replaces: Iterable[str] = (),
        metadata: dict[str, str] | None = None,
    ) -> str | None:
        """Commit ``rows`` as a new part of ``table``; returns its path (None: no rows).
        ``replaces``: paths of parts these rows merge; readers skip them from the moment this
        part exists (module docstring), and the caller deletes them, then ``<part>.replaces``."""
        if isinstance(rows, pa.Table):
            data = rows
        else:
            data = pa.Table.from_pylist(rows, schema=TABLES[table])
        if metadata:  # provenance: backend and orgsweep version (sweep.provenance)
            data = data.replace_schema_metadata({**(data.schema.metadata or {}), **metadata})
        if data.num_rows == 0:
            return None
        folder = self.path(table)
        self.fs.create_dir(folder, recursive=True)
        name = f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
        final = f"{folder}/{name}"
        tmp = f"{final}.tmp"
        if replaces:
            with self._atomic(f"{final}{REPLACES}") as out:
                out.write("".join(f"{p.rsplit('/', 1)[-1]}\n" for p in replaces).encode())
        with self._atomic(final, tmp) as out:
            pq.write_table(data, out, compression="zstd")
        return final

    @contextmanager
    def _atomic(self, final: str, tmp: str | None = None) -> Iterator[Any]:
        """An output stream whose file appears at ``final`` only once complete: written under
        ``tmp`` (default ``final.tmp``), then moved into place."""
        tmp = tmp or f"{final}.tmp"
        with self.fs.open_output_stream(tmp) as out:
            yield out
        self.fs.move(tmp, final)

    def write_rows(self, batches: dict[str, list[dict[str, Any]]]) -> str:
        """Commit buffered rows: every other table first, ``runs`` last. Every row gets the
        commit's ``batch`` id, which ties an attempt's rows together. Returns the id."""
        batch = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        stamp_counts(batches)  # each runs row says how many rows the other tables must hold
        meta = part_metadata(batches.get("runs", []))
        for table in WRITE_ORDER:
            rows = batches.get(table, [])
            for r in rows:
                r["batch"] = batch
            self.write_part(table, rows, metadata=meta)
        return batch

    def write_text(self, name: str, text: str) -> None:
        self.fs.create_dir(self.root, recursive=True)
        with self._atomic(self.path(name), self.path(f".{name}.tmp")) as out:
            out.write(text.encode())

    def write_plan(self, ids: list[str]) -> None:
        """The planned episode ids (``plan.parquet``), so readers need not plan again."""
        self.fs.create_dir(self.root, recursive=True)
        with self._atomic(self.path(PLAN), self.path(f".{PLAN}.tmp")) as out:
            pq.write_table(pa.table({"episode_id": pa.array(ids, pa.string())}), out)

    def read_plan(self) -> list[str] | None:
        """The stored plan's episode ids; None when there is none. A ``plan.parquet`` that is
        there but is not a plan (a directory, a damaged or foreign file) is a UserError naming
        it: analysing or launching without the plan would count the wrong episodes."""
        path = self.path(PLAN)
        try:
            kind = self.fs.get_file_info(path).type
            if kind == pafs.FileType.NotFound:
                return None
            if kind != pafs.FileType.File:
                raise ValueError("it is a directory, not a file")
            t = pq.read_table(path, filesystem=self.fs)
            if "episode_id" not in t.column_names:
                raise ValueError("it has no episode_id column")
        except (OSError, ValueError, pa.ArrowException) as e:
            raise UserError(
                f"{path} is not a readable plan ({e}); move it out of the results directory; "
                "the next `orgsweep launch` then writes it again"
            ) from None
        return [str(x) for x in t.column("episode_id").to_pylist()]

    def read_text(self, name: str) -> str | None:
        try:
            with self.fs.open_input_stream(self.path(name)) as f:
                return bytes(f.read()).decode()
        except (FileNotFoundError, OSError):
            return None

    # ---- reading ------------------------------------------------------------------------

    def parts(self, table: str) -> list[str]:
        """Committed part files of ``table``: never temporary files, nor parts a merged part
        replaces (module docstring)."""
        files = self._files(table)
        parts = {p for p in files if p.endswith(".parquet")}
        folder = self.path(table)
        for merged, listing in self.merges(table, files):
            if merged in parts:
                parts -= {f"{folder}/{name}" for name in listing}
        return sorted(parts)

    def _files(self, table: str) -> set[str]:
        sel = pafs.FileSelector(self.path(table), allow_not_found=True)
        try:
            infos = self.fs.get_file_info(sel)
        except OSError:
            if self.fs.get_file_info(self.path(table)).type == pafs.FileType.File:
                raise not_a_table_dir(self.path(table), table) from None
            raise
        return {i.path for i in infos if i.type == pafs.FileType.File}

    def merges(self, table: str, files: set[str] | None = None) -> list[tuple[str, list[str]]]:
        """(merged part, names of the parts it replaces) for every ``.replaces`` file of
        ``table``: none unless a compaction is running or was interrupted."""
        if files is None:
            files = self._files(table)
        out = []
        for path in sorted(p for p in files if p.endswith(REPLACES)):
            try:
                with self.fs.open_input_stream(path) as f:
                    names = bytes(f.read()).decode().split()
            except (FileNotFoundError, OSError):
                continue  # deleted since the listing: the compaction finished
            out.append((path[: -len(REPLACES)], names))
        return out

    def read_table(self, table: str, columns: list[str] | None = None) -> pa.Table:
        """All readable parts of ``table``; unreadable ones are skipped with a warning.

        On a local disk, one Polars multi-file scan (~0.2 ms per part instead of ~2 ms one file
        at a time: BENCHMARKS.md, resume); if it fails (a damaged part, a part of another
        schema), or on other filesystems, the parts are read one by one, several at a time,
        so the readable ones still count."""
        schema = TABLES[table]
        if columns:
            schema = pa.schema([schema.field(c) for c in columns])
        if isinstance(self.fs, pafs.LocalFileSystem):
            try:
                frame = self.scan(table).select(schema.names).collect()
                return frame.to_arrow().cast(schema)
            except (OSError, pa.ArrowException, pl.exceptions.PolarsError):
                pass  # read part by part below, to find and skip the bad ones
        parts = self.parts(table)
        if not parts:
            return schema.empty_table()
        with ThreadPoolExecutor(max_workers=min(16, len(parts))) as pool:
            read = list(pool.map(lambda p: self.read_part(p, schema), parts))
        tables = [t for t in read if t is not None]
        if not tables:
            return schema.empty_table()
        return pa.concat_tables(tables)

    def scan(self, table: str) -> pl.LazyFrame:
        """``table`` as a LazyFrame of its readable parts; unreadable ones are skipped with a
        warning (``read_part``). On a local disk, a lazy multi-file scan of the parts whose
        footer reads; elsewhere the parts are read (``read_table``)."""
        schema = TABLES[table]
        if isinstance(self.fs, pafs.LocalFileSystem):
            expected = polars_schema(table)
            good = [p for p in self.parts(table) if self._part_fits(p, table, expected)]
            arrow = schema.empty_table()
            if good:
                # Parts written before a column existed read it as null; a part's columns that
                # the schema does not know are left out (foreign parts are skipped above).
                return pl.scan_parquet(
                    good, schema=expected, missing_columns="insert", extra_columns="ignore"
                )
        else:
            arrow = self.read_table(table).cast(schema)
        frame = pl.from_arrow(arrow)
        assert isinstance(frame, pl.DataFrame)
        return frame.lazy()

    def _part_fits(self, path: str, table: str, expected: pl.Schema) -> bool:
        """The part's footer reads and its columns are ``table``'s (a foreign or mismatched
        file is skipped with a warning naming it)."""
        try:
            found = pl.read_parquet_schema(path)
        except Exception as e:  # Polars raises several types for a damaged file
            _warn_unreadable(path, e)
            return False
        if problem := _mismatch(found, expected, table):
            _warn_foreign(path, problem)
            return False
        return True

    def read_part(self, path: str, schema: pa.Schema) -> pa.Table | None:
        """One part's rows as ``schema``, or None (with a warning) if it cannot be read so."""
        got = self.load_part(path, schema)
        if isinstance(got, PartProblem):
            warn = _warn_unreadable if got.kind == "unreadable" else _warn_foreign
            warn(path, got.problem)
            return None
        return got

    def load_part(self, path: str, schema: pa.Schema) -> pa.Table | PartProblem:
        """One part's rows as ``schema``, or why it cannot be read so (no warning)."""
        try:
            t = pq.read_table(path, filesystem=self.fs)
        except (OSError, pa.ArrowException) as e:
            return PartProblem("unreadable", str(e))
        table = next((k for k, v in TABLES.items() if set(schema.names) <= set(v.names)), "")
        found = pl.from_arrow(t.schema.empty_table())
        assert isinstance(found, pl.DataFrame)
        expected = pl.from_arrow(schema.empty_table())
        assert isinstance(expected, pl.DataFrame)
        if problem := _mismatch(found.schema, expected.schema, table, subset=True):
            return PartProblem("foreign", problem)
        for name in schema.names:  # columns added after the part was written: null
            if name not in t.column_names:
                t = t.append_column(name, pa.nulls(t.num_rows, schema.field(name).type))
        return t.select(schema.names).cast(schema)

    def committed(self) -> dict[str, Committed]:
        """episode_id -> its latest committed attempt (an ok attempt wins over a failed one).
        An episode whose latest commit has rows missing in another table (a damaged or lost
        part: ``sweep.results.verify``) is ``damaged``; the next launch re-runs it."""
        runs = self.committed_runs()
        return committed_from(runs, incomplete(self, runs))

    def committed_runs(self) -> pl.DataFrame:
        """The ``COMMITTED_COLUMNS`` of every readable runs row: what ``committed`` and
        ``verify.incomplete`` read."""
        runs = pl.from_arrow(self.read_table("runs", COMMITTED_COLUMNS))
        assert isinstance(runs, pl.DataFrame)
        return runs


COMMITTED_COLUMNS = ["episode_id", "attempt", "batch", "step", "status", *COUNTED.values()]


def committed_from(runs: pl.DataFrame, short: pl.DataFrame) -> dict[str, Committed]:
    """``ResultStore.committed`` from the ``COMMITTED_COLUMNS`` of ``runs`` and the commits
    ``verify.incomplete`` found short, for a caller that has read both already."""
    out: dict[str, Committed] = {}
    for eid, attempt, status in zip(
        runs["episode_id"].to_list(),
        runs["attempt"].to_list(),
        runs["status"].to_list(),
        strict=True,
    ):
        cur = out.get(eid)
        if cur is None or (attempt, status == "ok") > (cur.attempt, cur.status == "ok"):
            out[eid] = Committed(status, attempt)
    for eid, attempt in short.select("episode_id", "attempt").unique().iter_rows():
        if out[eid].attempt == attempt:
            out[eid] = Committed("damaged", attempt)
    return out


def polars_schema(table: str) -> pl.Schema:
    """``table``'s columns as Polars dtypes."""
    frame = pl.from_arrow(TABLES[table].empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame.schema


def _mismatch(
    found: Mapping[str, Any], expected: pl.Schema, table: str, subset: bool = False
) -> str:
    """Why a part with columns ``found`` is not a part of ``table`` ("" when it is one): it
    lacks the key columns, or a column has another type. ``subset``: ``expected`` is a
    selection of the table's columns."""
    keys = [k for k in ("episode_id", "attempt", "batch") if k in expected or not subset]
    if missing := [k for k in keys if k not in found]:
        return f"not an orgsweep {table} part: no column {', '.join(missing)}"
    for name, dtype in found.items():
        want = expected.get(name)
        if want is not None and want != dtype:
            return f"column {name} is {dtype}, a {table} part stores {want}"
    return ""


def not_a_table_dir(path: str, table: str) -> UserError:
    return UserError(
        f"{path} is a file, not the directory of {table} part files; move it out of the "
        "results directory"
    )


def _warn_foreign(path: str, problem: str) -> None:
    warnings.warn(
        f"skipping part file {path}: {problem}; move it out of the results directory",
        StoreWarning,
        stacklevel=3,
    )


def _warn_unreadable(path: str, error: Exception | str) -> None:
    warnings.warn(
        f"skipping unreadable part file {path}: {error}; its episodes will be re-run",
        StoreWarning,
        stacklevel=3,
    )


class BufferedWriter:
    """Collects episodes' rows and commits them by size or age (few, larger part files)."""

    def __init__(self, store: ResultStore, flush_rows: int = 5000, flush_seconds: float = 10.0):
        self.store = store
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._buf: dict[str, list[dict[str, Any]]] = {t: [] for t in WRITE_ORDER}
        self._since = time.monotonic()
        self.episodes_buffered = 0

    def add(self, tables: dict[str, Iterable[dict[str, Any]]]) -> None:
        for t, rows in tables.items():
            self._buf[t].extend(rows)
        self.episodes_buffered += 1

    def due(self) -> bool:
        rows = sum(len(v) for v in self._buf.values())
        return rows >= self.flush_rows or (
            self.episodes_buffered > 0 and time.monotonic() - self._since >= self.flush_seconds
        )

    def flush(self) -> int:
        n = self.episodes_buffered
        if n:
            self.store.write_rows(self._buf)
        self._buf = {t: [] for t in WRITE_ORDER}
        self._since = time.monotonic()
        self.episodes_buffered = 0
        return n
