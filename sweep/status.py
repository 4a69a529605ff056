"""``orgsweep status``: done / failed / pending by cell, from the results directory alone."""

from __future__ import annotations

from collections import Counter

import yaml
from rich.console import Console
from rich.table import Table

from sweep.config import build, compose
from sweep.errors import UserError
from sweep.plan import plan
from sweep.spend import line, spent
from sweep.store import MANIFEST, ResultStore


def status(results_dir: str, con: Console) -> None:
    store = ResultStore(results_dir)
    text = store.read_text(MANIFEST)
    if text is None:
        raise UserError(f"{results_dir} has no {MANIFEST}: not an orgsweep results directory")
    manifest = yaml.safe_load(text) or {}
    overrides = [o for o in manifest.get("overrides") or [] if not o.startswith("results_dir=")]
    typed, _ = build(compose([*overrides, f"results_dir={results_dir}"]))
    p = plan(typed)
    committed = store.committed()
    planned = {s.episode_id for s in p.specs}
    rows: Counter[tuple[str, str, str]] = Counter()
    for s in p.specs:
        c = committed.get(s.episode_id)
        state = "pending" if c is None else c.status
        rows[(s.block, s.protocol, state)] += 1
    t = Table(title=f"{manifest.get('sweep', '?')} in {results_dir}")
    for col in ("block", "protocol", "planned", "ok", "failed", "pending"):
        t.add_column(col, justify="left" if col in ("block", "protocol") else "right")
    cells = sorted({(b, pr) for b, pr, _ in rows})
    for b, pr in cells:
        ok, failed, pending = (rows[(b, pr, k)] for k in ("ok", "failed", "pending"))
        t.add_row(b, pr, str(ok + failed + pending), str(ok), str(failed), str(pending))
    con.print(t)
    n_ok = sum(1 for e in planned if e in committed and committed[e].status == "ok")
    n_failed = sum(1 for e in planned if e in committed and committed[e].status == "failed")
    stale = len(set(committed) - planned)
    pending = len(planned) - n_ok - n_failed
    con.print(
        f"planned {len(planned)}: ok {n_ok}, failed {n_failed}, "
        f"pending {pending}; stale (not in plan) {stale}"
    )
    if (spent_line := line(spent(store))) is not None:
        con.print(spent_line)
    rate = _recent_rate(store)
    if rate is not None:
        eps, tps = rate
        eta = f", ETA {pending / eps / 60:.1f} min" if pending and eps > 0 else ""
        con.print(f"last {WINDOW_S // 60} min: {eps:.2f} episodes/s, {tps:,.0f} tokens/s{eta}")


WINDOW_S = 600


def _recent_rate(store: ResultStore) -> tuple[float, float] | None:
    """Episodes and agent tokens per second over the last commits (None when idle)."""
    import polars as pl

    t = store.read_table(
        "runs", ["episode_id", "step", "finished_at", "prompt_tokens", "completion_tokens"]
    )
    if t.num_rows == 0:
        return None
    df = pl.from_arrow(t)
    assert isinstance(df, pl.DataFrame)
    end = df["finished_at"].max()
    recent = df.filter(pl.col("finished_at") >= pl.lit(end) - pl.duration(seconds=WINDOW_S))
    span = (recent["finished_at"].max() - recent["finished_at"].min()).total_seconds()  # type: ignore[operator,union-attr]
    if span <= 0:
        return None
    episodes = recent["episode_id"].n_unique()
    tokens = int(
        (recent["prompt_tokens"].fill_null(0) + recent["completion_tokens"].fill_null(0)).sum()
    )
    return episodes / span, tokens / span
