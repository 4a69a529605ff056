"""``orgsweep report`` on one tiny sweep (two models, one hosted; two protocols; N 4 and 8; free
and fixed roles; levels L1 and L3; two steps; run in this process on the sim backend): every
file, the sim banner, omitted tables with their reasons, every stats.json entry recomputed with
scipy from the runs table, ``plan_only``, and query errors. The slow test times the report on
25,000 synthesised runs."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from agents.backends import make_backend
from analysis import load
from analysis.tables.units import per_episode
from sweep.cli import main
from sweep.config import build, compose
from sweep.episode import EpisodeRows, run_episode
from sweep.launch import manifest_text as _manifest
from sweep.plan import plan
from sweep.results.reader import ids_digest
from sweep.results.store import MANIFEST, ResultStore

TINY = [
    "sweep.blocks.0.models=[llama31_8b,claude_sonnet_46]",
    "sweep.blocks.0.protocols=[sequential,coordinator]",
    "sweep.blocks.0.n_agents=[4,8]",
    "sweep.blocks.0.roles=[free,fixed]",
    "sweep.blocks.0.levels=[L1,L3]",
    "sweep.blocks.0.tasks_per_cell=2",
    "sweep.blocks.0.steps=2",
]
PNGS = {
    "quality_by_protocol.png",
    "scaling_by_n.png",
    "quality_by_level.png",
    "participation_vs_quality.png",
    "role_heatmap.png",
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> str:
    res = str(tmp_path_factory.mktemp("report") / "r")
    run_in_process(res, TINY)
    return res


def run_in_process(results_dir: str, overrides: list[str]) -> None:
    """What ``orgsweep launch`` writes (rows, plan and manifest), without Ray: the sim backend in
    this process, one commit. Keeps the module fast and independent of a cluster."""
    overrides = [f"results_dir={results_dir}", *overrides]
    cfg = compose(overrides)
    typed, _ = build(cfg)
    p = plan(typed)
    backend = make_backend(typed.backend.name, typed.backend.options)

    async def run_all() -> list[EpisodeRows]:
        out = await asyncio.gather(*(run_episode(s, backend) for s in p.specs))
        await backend.aclose()
        return list(out)

    tables: dict[str, list[dict[str, Any]]] = {"runs": [], "agents": [], "transcripts": []}
    for rows in asyncio.run(run_all()):
        for r in rows.runs:
            r.update(backend=typed.backend.name, node="local")
        tables["runs"] += rows.runs
        tables["agents"] += rows.agents
        tables["transcripts"] += rows.transcripts
    store = ResultStore(results_dir)
    store.write_rows(tables)
    store.write_plan(p.ids)
    store.write_text(MANIFEST, _manifest(cfg, typed, p, overrides))


@pytest.fixture(scope="module")
def report_dir(results: str) -> Path:
    assert main(["report", results]) == 0
    return Path(results) / "report"


def test_report_writes_every_file(report_dir: Path) -> None:
    names = {p.name for p in report_dir.iterdir()}
    figures = {f"{p[:-4]}{suffix}" for p in PNGS for suffix in (".png", ".svg", "-slide.png")}
    assert names == figures | {"report.md", "report.html", "stats.json"}
    page = (report_dir / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(PNGS)
    assert not re.search(r'src="(?!data:)|<link|<script', page)  # self-contained


def test_sim_banner(report_dir: Path) -> None:
    banner = "Synthetic data: all of these run steps come from the `sim` backend"
    assert banner in (report_dir / "report.md").read_text()
    assert "not evidence about LLMs" in (report_dir / "report.html").read_text()


def test_every_table_names_its_query(report_dir: Path) -> None:
    md = (report_dir / "report.md").read_text()
    sections = re.split(r"\n(?=#{2,3} )", md)
    tabled = [s for s in sections if "\n| " in s]
    assert len(tabled) >= 15
    for s in tabled:
        source = r"Source: `analysis\.(tables|emergence|cost_report)\.\w+"
        assert re.search(source, s), s.splitlines()[0]
    # Tables this sweep fills, and ones it cannot, with their reasons.
    for title in ("Table III", "Table IV", "Table VIII", "Table IX", "Role stability (RSI)"):
        assert next(s for s in tabled if title in s.splitlines()[0])
    assert (
        "## Shock resilience\n\n_Omitted: no shocked episodes beside a no-shock arm in these "
        "results._"
    ) in md


def test_closed_vs_open_is_omitted_without_a_hosted_model(results: str, tmp_path: Path) -> None:
    """Drop the hosted model's runs from a copy; the plan still covers what is left."""
    copy = tmp_path / "open_only"
    shutil.copytree(results, copy, ignore=shutil.ignore_patterns("report"))
    for part in (copy / "runs").glob("*.parquet"):
        df = pl.read_parquet(part)
        df.filter(pl.col("model") != "claude_sonnet_46").write_parquet(part)
    assert main(["report", str(copy)]) == 0
    md = (copy / "report" / "report.md").read_text()
    assert (
        "## Closed vs open models (Table VIII)\n\n_Omitted: no hosted model in these results._"
        in md
    )


def test_stats_json_matches_scipy(results: str, report_dir: Path) -> None:
    """stats.json recomputed with scipy at the task level: episodes averaged over their steps,
    then per (group, task unit) means."""
    doc = json.loads((report_dir / "stats.json").read_text())
    episodes = per_episode(load(results).runs).collect()
    assert doc["omnibus"] and doc["comparisons"]
    factors = {e["factor"] for e in doc["omnibus"]}
    assert factors == {"protocol", "n_agents", "model", "level", "roles"}
    for e in doc["omnibus"]:
        part = _stratum(episodes, e["stratum"])
        means = part.group_by(e["column"], "unit").agg(pl.col("quality").mean())
        wide = means.pivot(on=e["column"], index="unit", values="quality").drop("unit")
        assert (e["n"], e["k"], e["units"]) == (part.height, wide.width, wide.height)
        if e["test"] == "wilcoxon":
            a, b = wide.to_numpy().T
            if not (a - b).any():  # every difference zero: undefined (analysis.stats), scipy 1.0
                assert e["p_value"] is None
                continue
            ref = sps.wilcoxon(a, b)
            assert e["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
        for key in ("icc", "n_eff", "family", "run_level_p"):
            assert key in e
    assert {m["factor"] for m in doc["mixed_models"]} == factors
    for c in doc["comparisons"]:
        _check_pair(_stratum(episodes, c["stratum"]), c)
        assert c["ci"][0] <= c["delta"] <= c["ci"][1]
        assert c["ci_a"][0] <= c["mean_a"] <= c["ci_a"][1]
    assert {c["test"] for c in doc["comparisons"]} <= {"wilcoxon", "mann_whitney"}
    assert any(c["paired"] for c in doc["comparisons"])
    entries = [*doc["omnibus"], *doc["comparisons"]]
    for family in doc["families"]:
        _check_holm([e for e in entries if e["family"] == family], doc["families"][family]["tests"])


def _stratum(runs: pl.DataFrame, stratum: dict[str, Any]) -> pl.DataFrame:
    return runs.filter(*(pl.col(k) == v for k, v in stratum.items()))


def _check_pair(part: pl.DataFrame, c: dict[str, Any]) -> None:
    ga = part.filter(pl.col(c["column"]) == c["a"])
    gb = part.filter(pl.col(c["column"]) == c["b"])
    assert (c["n_a"], c["n_b"]) == (ga.height, gb.height)
    ua = ga.group_by("unit").agg(pl.col("quality").mean()).sort("unit")
    ub = gb.group_by("unit").agg(pl.col("quality").mean()).sort("unit")
    x, y = ua["quality"].to_numpy(), ub["quality"].to_numpy()
    assert (c["mean_a"], c["mean_b"]) == (pytest.approx(x.mean()), pytest.approx(y.mean()))
    assert c["delta_pct"] == pytest.approx((x.mean() - y.mean()) / y.mean() * 100)
    sd = np.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    if c["cohens_d"] is not None:
        assert c["cohens_d"] == pytest.approx((x.mean() - y.mean()) / sd)
    key = ["unit", "seed", "shock_kind", "shock_step"]
    joined = ga.join(gb, on=key, suffix="_b", nulls_equal=True)
    paired = joined.height == ga.height == gb.height and not ga.select(key).is_duplicated().any()
    assert c["paired"] == paired
    if paired and not (x - y).any():  # every difference zero: undefined (analysis.stats)
        assert (c["test"], c["p_value"]) == ("wilcoxon", None)
    elif paired:
        w = sps.wilcoxon(x, y, method=c["method"])
        assert c["test"] == "wilcoxon"
        assert (c["statistic"], c["p_value"]) == (
            pytest.approx(w.statistic),
            pytest.approx(w.pvalue),
        )
    else:
        mwu = sps.mannwhitneyu(x, y, alternative="two-sided")
        assert (c["test"], c["p_value"]) == ("mann_whitney", pytest.approx(mwu.pvalue))


def _check_holm(entries: list[dict[str, Any]], n_tests: int) -> None:
    tested = [e for e in entries if e["p_value"] is not None]
    assert len(tested) == n_tests
    ordered = sorted(tested, key=lambda e: e["p_value"])
    running = 0.0
    for i, e in enumerate(ordered):
        running = max(running, min(1.0, (n_tests - i) * e["p_value"]))
        assert e["p_holm"] == pytest.approx(running)


def test_plan_only_leaves_out_stale_episodes(results: str, tmp_path: Path) -> None:
    copy = tmp_path / "stale"
    shutil.copytree(results, copy, ignore=shutil.ignore_patterns("report"))
    runs = pl.read_parquet(next((copy / "runs").glob("*.parquet")))
    runs.head(1).with_columns(episode_id=pl.lit("stale0000")).write_parquet(
        copy / "runs" / "part-stale.parquet"
    )
    planned = load(str(copy)).runs.select("episode_id").unique().collect()
    everything = load(str(copy), plan_only=False).runs.select("episode_id").unique().collect()
    assert "stale0000" not in planned["episode_id"]
    assert everything.height == planned.height + 1
    assert main(["report", str(copy), "--all-episodes", "--out", str(tmp_path / "rep")]) == 0
    n = load(str(copy), plan_only=False).runs.collect().height
    assert f"{n} run steps" in (tmp_path / "rep" / "report.md").read_text()


def test_report_errors_are_one_line(results: str, tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not an orgsweep results directory" in capsys.readouterr().err
    assert main(["report", results, "--score-set", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no score set 'nope'" in err and "Traceback" not in err


def test_query_errors_still_name_columns(results: str, capsys) -> None:
    assert main(["query", results, "SELECT no_such_column FROM runs"]) == 2
    err = capsys.readouterr().err
    assert "no_such_column" in err and "runs(episode_id" in err and "agents(" in err


@pytest.mark.slow
def test_report_on_25000_runs(results: str, tmp_path: Path) -> None:
    """25,000 run steps (the paper's scale): the tiny sweep copied with new episode ids, seeds
    and blocks, quality perturbed; the report is written and counts every step. Its time is a
    benchmark figure (``python -m bench query``, BENCHMARKS.md), printed here, not asserted."""
    big = synthesise(results, tmp_path / "big", 25_000)
    t0 = time.perf_counter()
    assert main(["report", big]) == 0
    seconds = time.perf_counter() - t0
    print(f"report on 25,000 runs: {seconds:.1f} s")
    md = (Path(big) / "report" / "report.md").read_text()
    steps = pl.read_parquet(f"{big}/runs/*.parquet").filter(pl.col("status") == "ok").height
    assert f"{steps:,} run steps (status ok)" in md or f"{steps} run steps (status ok)" in md


def synthesise(src: str, dst: Path, n_runs: int) -> str:
    """A results dir of ``n_runs`` run steps made of copies of ``src``'s (one part per copy)."""
    runs = pl.read_parquet(f"{src}/runs/*.parquet")
    agents = pl.read_parquet(f"{src}/agents/*.parquet")
    for table in ("runs", "agents"):
        (dst / table).mkdir(parents=True)
    rng = np.random.default_rng(0)
    ids: list[str] = []
    for k in range(-(-n_runs // runs.height)):
        r = runs.with_columns(
            episode_id=pl.col("episode_id") + f"-{k:04d}",
            block=pl.lit(f"b{k % 13:02d}"),
            seed=pl.lit(k, pl.Int64),
            quality=(pl.col("quality") + rng.normal(0, 0.03, runs.height)).clip(0.25, 1.0),
        )
        r.write_parquet(dst / "runs" / f"part-{k:05d}.parquet")
        agents.with_columns(episode_id=pl.col("episode_id") + f"-{k:04d}").write_parquet(
            dst / "agents" / f"part-{k:05d}.parquet"
        )
        ids += r["episode_id"].unique().to_list()
    manifest = (Path(src) / "sweep.yaml").read_text()
    digest = re.search(r"plan_digest: (\S+)", manifest)
    assert digest
    (dst / "sweep.yaml").write_text(manifest.replace(digest.group(1), ids_digest(ids)))
    return str(dst)


def test_pairs_helper_is_exhaustive() -> None:
    """The stats' "all pairs" are every unordered pair once (a guard for the orientation)."""
    from analysis.tables.inference import _pairs

    values = {
        k: pl.DataFrame({"quality": [v]}) for k, v in zip("abcd", (0.1, 0.4, 0.3, 0.2), strict=True)
    }
    pairs = _pairs(values, "all", "quality")
    assert len(pairs) == 6
    assert {frozenset(p) for p in pairs} == {frozenset(p) for p in combinations("abcd", 2)}
    assert all(values[a]["quality"][0] >= values[b]["quality"][0] for a, b in pairs)


def test_estimates_carry_cis_and_counts_are_named(report_dir: Path) -> None:
    """Every stats.json entry carries ``ci``; every mean column of the paper's tables is shown
    as ``x [lo, hi]`` (counts such as ``runs`` and the descriptive ``Q_sd`` excepted)."""
    doc = json.loads((report_dir / "stats.json").read_text())
    assert all("ci" in e for e in (*doc["omnibus"], *doc["comparisons"]))
    md = (report_dir / "report.md").read_text()
    table = md.split("## Protocol comparison (Table III)")[1].split("\n\n")[3].splitlines()
    head = [c.strip() for c in table[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    for col in ("Q", "M", "T", "wall_s", "tokens", "R", "B"):
        cells = [r[head.index(col)] for r in rows]
        assert cells and all(re.fullmatch(r"\S+ \[(\S+, \S+|n/a)\]", c) for c in cells), col
