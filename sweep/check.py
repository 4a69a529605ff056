"""``orgsweep check``: every damaged, foreign, orphaned or leftover file of a results directory,
and what the next ``launch`` (or ``compact``) does about it.

Read-only and lease-free. It asks the readers themselves (``ResultStore.load_part``,
``sweep.results.verify.incomplete``, ``committed``, ``read_plan``, ``read_manifest``, the
writer lease's ``Lease.holder``), so what it reports is exactly what every command skips, warns
about or re-runs (docs/design/storage.md, section 6). A merge of ``orgsweep compact`` still in its
grace period is how compaction works, not a leftover, and is not reported.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl
import pyarrow.fs as pafs

from sweep.errors import UserError
from sweep.lease import LEASE, Lease
from sweep.results.compact import GRACE_S, replaces_age
from sweep.results.manifest import read_manifest
from sweep.results.schema import TABLES
from sweep.results.store import (
    MANIFEST,
    PLAN,
    REPLACES,
    PartProblem,
    ResultStore,
    StoreWarning,
    committed_from,
)
from sweep.results.verify import DamagedCommitWarning, incomplete

MOVE_ASIDE = "move it out of the results directory"
SHOWN = 5  # episode ids named per finding in text output


@dataclass(frozen=True)
class Finding:
    kind: str  # unreadable | foreign | damaged | orphaned | leftover | lease | plan | manifest
    path: str
    problem: str
    action: str  # what the next launch (or compact) does about it, or what to do
    episodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckReport:
    results_dir: str
    findings: tuple[Finding, ...]
    planned: int | None  # episodes of plan.parquet (None: no readable plan)
    committed: int | None  # episodes with a whole commit, ok or failed (None: runs unusable)
    to_run: int | None  # what the next launch runs (without --retry-failed)
    failed: int | None = None  # committed as failed: re-run only with --retry-failed

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


def check(uri: str) -> CheckReport:
    """Everything wrong with the results directory ``uri`` (nothing is changed)."""
    store = ResultStore(uri)
    out = [*_manifest(store), *_lease(store), *_leftovers(store, "")]
    plan_ids, plan_finding = _plan(store)
    out += plan_finding
    usable = []
    for table in TABLES:
        if store.fs.get_file_info(store.path(table)).type == pafs.FileType.File:
            out.append(
                Finding(
                    "foreign",
                    store.path(table),
                    f"a file, not a directory of {table} part files",
                    f"every command stops on it; {MOVE_ASIDE}",
                )
            )
            continue
        usable.append(table)
        out += _parts(store, table) + _leftovers(store, table)
    committed: dict[str, str] = {}
    if "runs" in usable:
        with warnings.catch_warnings():  # reported above, by file
            warnings.simplefilter("ignore", StoreWarning)
            warnings.simplefilter("ignore", DamagedCommitWarning)
            runs = store.committed_runs()
            short = incomplete(store, runs)  # read and verified once for all three
            committed = {k: c.status for k, c in committed_from(runs, short).items()}
            out += _damaged(store, usable, short)
            out += _orphaned(store, usable, committed, runs)
    whole = sum(s != "damaged" for s in committed.values()) if "runs" in usable else None
    to_run = None
    if plan_ids is not None and whole is not None:
        to_run = sum(committed.get(i, "damaged") == "damaged" for i in plan_ids)
    failed = sum(s == "failed" for s in committed.values()) if whole is not None else None
    planned = None if plan_ids is None else len(plan_ids)
    return CheckReport(store.uri, tuple(out), planned, whole, to_run, failed)


def _manifest(store: ResultStore) -> list[Finding]:
    try:
        read_manifest(store)
    except UserError as e:
        return [
            Finding(
                "manifest",
                store.path(MANIFEST),
                str(e),
                "launch, status, report and compact stop with this message; move it aside: "
                "the next `orgsweep launch` writes it again",
            )
        ]
    return []


def _plan(store: ResultStore) -> tuple[list[str] | None, list[Finding]]:
    path = store.path(PLAN)
    try:
        ids = store.read_plan()
    except UserError as e:
        return None, [Finding("plan", path, str(e), "every command stops with this message")]
    if ids is None:
        missing = Finding(
            "plan",
            path,
            "missing",
            "the next `orgsweep launch` writes it; until then query and report use every "
            "committed episode",
        )
        return None, [missing]
    return ids, []


def _lease(store: ResultStore) -> list[Finding]:
    lease = Lease(store, "check")
    if store.fs.get_file_info(lease.file).type == pafs.FileType.NotFound:
        return []
    holder = lease.holder()
    if holder is None:
        problem, action = "unreadable", "the next writer takes it over once a minute old"
    elif holder.stale(time.time(), lease.stale_s):
        problem = f"stale: held by {holder.describe(time.time())}, which is gone"
        action = "the next writer (launch, compact, rescore) takes it over"
    else:
        problem = f"held by {holder.describe(time.time())}"
        action = "the next launch or compact refuses, naming it (or waits for it with --wait)"
    return [Finding("lease", lease.file, problem, action)]


def _leftovers(store: ResultStore, table: str) -> list[Finding]:
    """Crashed writers' temporary files; a root's (``table`` ""), a table's otherwise."""
    folder = store.path(table) if table else store.path()
    sel = pafs.FileSelector(folder, allow_not_found=True)
    files = {i.path for i in store.fs.get_file_info(sel) if i.type == pafs.FileType.File}
    out = []
    for path in sorted(files):
        name = path.rsplit("/", 1)[-1]
        if table and path.endswith(".tmp"):
            action = "the next `orgsweep compact` removes it (no reader reads it)"
        elif not table and name.startswith(f"{LEASE}."):
            action = "a lease attempt's file that no one reads; delete it"
        elif not table and name.startswith(".") and name.endswith(".tmp"):
            action = f"the next launch replaces it when it writes {name[1:-4]}"
        elif table and not path.endswith((".parquet", REPLACES)):
            out.append(
                Finding("foreign", path, "not a part file", f"readers ignore it; {MOVE_ASIDE}")
            )
            continue
        else:
            continue
        out.append(Finding("leftover", path, "a crashed writer's temporary file", action))
    if table:
        out += _merges(store, table, files)
    return out


def _merges(store: ResultStore, table: str, files: set[str]) -> list[Finding]:
    """Merges of an interrupted compaction (past the grace period, or whose part never came)."""
    out = []
    for merged, names in store.merges(table, files):
        replaced = [n for n in names if store.path(table, n) in files]
        age = replaces_age(store, merged, time.time())
        if merged not in files:
            problem = "lists the parts of a merge whose merged part never appeared"
        elif replaced and age >= GRACE_S:
            problem = f"{len(replaced)} replaced part(s) still on disk (readers skip them)"
        elif not replaced and age >= GRACE_S:
            problem = "a finished merge's list"
        else:
            continue  # within the grace period: readers may still read the replaced parts
        action = "the next `orgsweep compact` finishes the merge and removes it"
        out.append(Finding("leftover", merged + REPLACES, problem, action))
    return out


def _parts(store: ResultStore, table: str) -> list[Finding]:
    unreadable = {
        "runs": "its episodes count as not committed: the next launch runs them again",
        "agents": "the episodes whose rows it held are damaged (listed apart): the next launch "
        "re-runs them",
        "transcripts": "the episodes whose rows it held are damaged (listed apart): the next "
        "launch re-runs them",
        "scores": "its scores are lost: run `orgsweep rescore` again",
    }[table]
    out = []
    for path in store.parts(table):
        got = store.load_part(path, TABLES[table])
        if not isinstance(got, PartProblem):
            continue
        if got.kind == "unreadable":
            action = f"skipped by every reader; {unreadable}; compact leaves it; {MOVE_ASIDE}"
        else:
            action = f"skipped by every reader, left in place by compact; {MOVE_ASIDE}"
        out.append(Finding(got.kind, path, got.problem, action))
    return out


def _damaged(store: ResultStore, tables: list[str], short: pl.DataFrame) -> list[Finding]:
    """Episodes whose latest commit's agents/transcripts rows are not all readable
    (``short``: ``verify.incomplete``'s commits)."""
    if not {"agents", "transcripts"} <= set(tables):
        return []
    out = []
    for table in sorted(set(short["table"].to_list())):
        rows = short.filter(pl.col("table") == table)
        episodes = tuple(sorted(set(rows["episode_id"].to_list())))
        missing = int((rows["expected"] - rows["found"]).sum())
        out.append(
            Finding(
                "damaged",
                store.path(table),
                f"{len(episodes)} episode(s) miss {missing} row(s) their commit wrote",
                "the next launch re-runs them (the next attempt's rows then win); `show` and "
                "this table are incomplete for them until then",
                episodes,
            )
        )
    return out


def _orphaned(
    store: ResultStore, tables: list[str], committed: dict[str, str], runs: pl.DataFrame
) -> list[Finding]:
    """Rows of commits whose runs rows are not readable: a commit that never finished (a crash
    between part files) or one whose runs part is damaged. No reader joins them."""
    key = ["episode_id", "attempt", "batch"]
    runs = runs.select(key)
    out = []
    for table in ("agents", "transcripts"):
        if table not in tables:
            continue
        rows = pl.from_arrow(store.read_table(table, key))
        assert isinstance(rows, pl.DataFrame)
        orphans = rows.join(runs.unique(), on=key, how="anti")
        if orphans.is_empty():
            continue
        episodes = tuple(sorted(set(orphans["episode_id"].to_list())))
        rerun = sum(committed.get(e, "damaged") == "damaged" for e in episodes)
        out.append(
            Finding(
                "orphaned",
                store.path(table),
                f"{orphans.height} row(s) of {orphans['batch'].n_unique()} commit(s) without "
                "runs rows (a commit that never finished, or whose runs part is unreadable)",
                f"ignored by every reader; the next launch runs {rerun} of these {len(episodes)} "
                "episode(s) (the others have a whole commit since); compact keeps the rows",
                episodes,
            )
        )
    return out


def lines(report: CheckReport) -> list[str]:
    """``report`` in words: one finding a line, each followed by what happens next."""
    summary = f"{report.committed} episode(s) committed"
    if report.committed is None:
        summary = "committed episodes unknown"
    elif report.planned is not None:
        summary += f" of {report.planned} planned; the next launch runs {report.to_run}"
    if report.failed:
        summary += f"; {report.failed} failed (re-run with --retry-failed)"
    if report.clean:
        return [f"{report.results_dir}: clean ({summary})"]
    out = [f"{report.results_dir}: {len(report.findings)} finding(s) ({summary})"]
    for f in report.findings:
        named = ""
        if f.episodes:
            more = len(f.episodes) - SHOWN
            named = f": {', '.join(f.episodes[:SHOWN])}" + (f" and {more} more" if more > 0 else "")
        named_first = f.problem.split(" ", 1)[0].endswith(f.path.rsplit("/", 1)[-1])
        where = "" if named_first else f"{f.path}: "  # a UserError's message names it first
        out.append(f"{f.kind:<10} {where}{f.problem}{named}")
        out.append(f"{'':<10} -> {f.action}")
    return out
