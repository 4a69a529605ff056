"""``orgsweep show``: one episode's turns, round by round, as readable text.

Reads the committed ``runs``, ``agents`` and ``transcripts`` rows of one episode (its latest
attempt) through ``analysis.load``. Per step: the run's headline numbers; per round: each
agent's role, participation or abstention reason, ``builds_on``, contribution and rationale,
and the prompt it received when the sweep ran with ``store_prompts=true``; then the deliverable
and the judge's justification, with control characters and bidi overrides escaped
(``sweep.terminal``). ``builds_on`` and the abstention reason are stored for an agent's
final turn (``agents`` table); earlier turns show what the transcript holds.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl

from sweep.errors import UserError
from sweep.results.schema import DELIVERABLE
from sweep.terminal import printable

FIND_IDS = 'orgsweep query {dir} "SELECT episode_id, protocol FROM runs LIMIT 5"'
_KEY = ["episode_id", "attempt", "batch", "step"]


def show(
    results_dir: str, episode: str, step: int | None = None, out: Callable[[str], None] = print
) -> None:
    """Print episode ``episode`` (an id or a unique prefix of one) of ``results_dir``."""
    from sweep.results.reader import load

    res = load(results_dir, include_failed=True, plan_only=False)
    runs = res.runs.filter(pl.col("episode_id").str.starts_with(episode)).collect()
    ids = sorted(set(runs["episode_id"]))
    if len(ids) != 1:
        what = "is ambiguous" if ids else "was not found"
        raise UserError(
            f"episode {episode!r} {what} in {results_dir}; list episode ids with: "
            + FIND_IDS.format(dir=results_dir)
        )
    runs = runs.filter(pl.col("episode_id") == ids[0]).sort("step")
    if step is not None:
        steps = runs["step"].to_list()
        if step not in steps:
            raise UserError(f"--step {step}: episode {ids[0]} has steps {steps}")
        runs = runs.filter(pl.col("step") == step)
    keys = runs.select(_KEY)
    turns = res.transcripts.join(keys.lazy(), on=_KEY, how="semi").collect()
    agents = res.agents.join(keys.lazy(), on=_KEY, how="semi").collect()
    for line in render(runs, agents, turns):
        out(printable(line))  # model-written text: no escape sequence reaches the terminal


def render(runs: pl.DataFrame, agents: pl.DataFrame, turns: pl.DataFrame) -> Iterator[str]:
    first = runs.row(0, named=True)
    yield (
        f"episode {first['episode_id']} (attempt {first['attempt']}): protocol "
        f"{first['protocol']} {first['protocol_params']}, model {first['model']}, "
        f"N={first['n_agents']}, roles {first['roles']}, level {first['level']}, "
        f"steps {first['steps']}, seed {first['seed']}"
    )
    for run in runs.iter_rows(named=True):
        s = run["step"]
        yield from _step(run, agents.filter(pl.col("step") == s), turns.filter(pl.col("step") == s))


def _step(run: dict[str, Any], agents: pl.DataFrame, turns: pl.DataFrame) -> Iterator[str]:
    yield ""
    if run["status"] != "ok":
        yield f"== step {run['step']}: {run['status']} ({run['error_kind']}): {run['error']}"
        return
    yield (
        f"== step {run['step']}: task {run['task_id']}{_shock(run)} | quality {_f(run['quality'])}"
        f" | mission {_f(run['mission_relevance'])} | participating {run['n_participating']}/"
        f"{run['n_active']} | roles {run['n_unique_roles']} | depth {run['hierarchy_depth']}"
        f" | calls {run['llm_calls']} (+{run['repair_calls']} repairs, {run['judge_calls']} "
        f"judge) | rounds {run['rounds']}"
    )
    final = {(r["agent"], r["round"]): r for r in agents.iter_rows(named=True)}
    rows = [r for r in turns.iter_rows(named=True) if r["agent"] != DELIVERABLE]
    seen = {(r["agent"], r["round"]) for r in rows}
    rows += [  # agents that made no call (excluded by the coordinator)
        {
            "agent": a,
            "round": rnd,
            "kind": "turn",
            "role": r["role"],
            "participate": False,
            "text": "",
            "rationale": "",
            "error": "",
            "prompt": "",
        }
        for (a, rnd), r in final.items()
        if (a, rnd) not in seen
    ]
    rows.sort(key=lambda r: (r["round"], r["agent"]))
    current = None
    for r in rows:
        if r["round"] != current:
            current = r["round"]
            yield f"-- round {current}"
        yield from _turn(r, final.get((r["agent"], r["round"])))
    for d in turns.filter(pl.col("agent") == DELIVERABLE).iter_rows(named=True):
        trunc = " (truncated to the judge budget)" if run["deliverable_truncated"] else ""
        yield f"-- deliverable{trunc}"
        yield from _indent(d["text"] or "(empty)")
        yield from _indent(f"judge: {d['rationale'] or d['error'] or '-'}")


def _turn(t: dict[str, Any], final: dict[str, Any] | None) -> Iterator[str]:
    who = "coordinator" if t["agent"] < 0 else f"agent {t['agent']}"
    kind = f" [{t['kind']}]" if t["kind"] not in ("turn", "coordinator") else ""
    if t["participate"]:
        status = "intends to participate" if t["kind"] == "intention" else "participates"
    else:
        status = f"abstains ({_reason(t, final)})"
    refs = list(final["builds_on"]) if final is not None and final["builds_on"] is not None else []
    builds = f" | builds_on {refs}" if refs else ""
    yield f"  {who}{kind} | role: {t['role'] or '-'} | {status}{builds}"
    if t["text"]:
        yield from _indent(t["text"], 4)
    if t["rationale"]:
        yield from _indent(f"rationale: {t['rationale']}", 4)
    if t["error"]:
        yield from _indent(f"invalid output: {t['error']}", 4)
    if t["prompt"]:
        yield "    prompt:"
        yield from _indent(t["prompt"], 6)


def _reason(t: dict[str, Any], final: dict[str, Any] | None) -> str:
    if final is not None and final["abstain_reason"]:
        return str(final["abstain_reason"])
    return "invalid_output" if t["error"] else "voluntary"


def _shock(run: dict[str, Any]) -> str:
    return f" | shock {run['shock']}" if run.get("shock") else ""


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _indent(text: str, n: int = 2) -> Iterator[str]:
    for line in text.splitlines() or [""]:
        yield textwrap.indent(line, " " * n) if line else ""
