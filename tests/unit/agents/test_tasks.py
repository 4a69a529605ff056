"""The task generator, the task model's hash, task files and the ``tasks=file`` source."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from agents.backends.chat import Message
from agents.backends.sim_read import read_prompt
from agents.prompts import render_task
from agents.tasks import (
    DOMAINS,
    LEVELS,
    Requirement,
    Stakeholder,
    Task,
    generate_tasks,
    load_tasks,
    make_task,
    role_catalogue,
    write_tasks,
)
from agents.tasks.domains import CONFLICTS, DOMAIN_CATALOGUE
from agents.tasks.model import content_hash
from sweep.cli import main
from sweep.config import SweepConfig, build, compose
from sweep.plan import plan


def _ok_deps(t: Task) -> bool:
    ids = {r.id: r for r in t.requirements}
    return all(d < r.id and d in ids for r in t.requirements for d in r.depends_on)


def test_deterministic_prefix_stable_and_seeded() -> None:
    a = generate_tasks(7, "L3", 40, namespace="b")
    assert a == generate_tasks(7, "L3", 40, namespace="b")
    assert generate_tasks(7, "L3", 15, namespace="b") == a[:15]
    assert [t.content_hash for t in a] == [
        t.content_hash for t in generate_tasks(7, "L3", 40, namespace="b")
    ]
    others = generate_tasks(8, "L3", 40, namespace="b") + generate_tasks(7, "L3", 40, namespace="c")
    assert not {t.content_hash for t in a} & {t.content_hash for t in others}
    with pytest.raises(ValueError, match="unknown level 'L5'; valid: L1, L2, L3, L4"):
        generate_tasks(0, "L5", 1)


def test_25000_tasks_are_distinct_fast_and_never_repeat_a_requirement() -> None:
    start = time.process_time()
    tasks = [t for lv in LEVELS for t in generate_tasks(0, lv, 6250)]
    cpu = time.process_time() - start
    assert len({t.content_hash for t in tasks}) == 25_000
    assert len({t.task_id for t in tasks}) == 25_000
    for t in tasks:
        texts = [r.text for r in t.requirements]
        assert len(set(texts)) == len(texts), t.task_id
        assert "{" not in "".join(texts) + t.brief + t.title
    assert cpu < 15, f"25,000 tasks took {cpu:.1f} s of CPU (about 2-3 s expected)"
    assert len(DOMAINS) >= 12
    # Variety: titles, requirement texts and requirement structures all vary widely.
    assert len({t.title for t in tasks}) > 10_000
    assert len({r.text for t in tasks for r in t.requirements}) > 10_000


@pytest.mark.parametrize("level", LEVELS)
def test_level_structure(level: str) -> None:
    for t in generate_tasks(3, level, 300):
        kinds = {r.kind for r in t.requirements}
        phases = [r.phase for r in t.requirements]
        n = len(t.requirements)
        assert [r.id for r in t.requirements] == list(range(1, n + 1))
        assert _ok_deps(t)
        assert len(set(t.domains)) == len(t.domains) and set(t.domains) <= set(DOMAINS)
        if level == "L1":
            assert len(t.domains) == 1 and 3 <= n <= 5 and kinds == {"analysis", "action"}
            assert set(phases) == {1} and not any(r.depends_on for r in t.requirements)
            assert not t.stakeholders and not t.missing_info
        elif level == "L2":
            assert len(t.domains) == 2 and 5 <= n <= 10 and set(phases) == {1}
            integrations = [r for r in t.requirements if r.depends_on]
            assert 1 <= len(integrations) <= 2
            # Requirements alternate between the two domains (odd ids: the first); each
            # integration builds on one requirement of either domain.
            assert all({d % 2 for d in r.depends_on} == {0, 1} for r in integrations)
            assert all(r.id > n - len(integrations) for r in integrations)
        else:
            assert len(t.domains) >= 3 and 10 <= n <= 20
            assert phases == sorted(phases) and set(phases) == set(range(1, max(phases) + 1))
            assert (3 <= max(phases) <= 4) if level == "L3" else (2 <= max(phases) <= 3)
            phase = {r.id: r.phase for r in t.requirements}
            for r in t.requirements:
                if r.phase > 1 and r.text not in {*t.missing_info}:
                    assert r.depends_on, (t.task_id, r)
                    assert any(phase[d] == r.phase - 1 for d in r.depends_on), (t.task_id, r)
        if level == "L4":
            _check_adversarial(t)


def _check_adversarial(t: Task) -> None:
    names = [s.name for s in t.stakeholders]
    assert len(names) in (4, 6) and len(set(names)) == len(names)
    pairs = {(c.a[0], c.b[0]) for c in CONFLICTS}
    for a, b in zip(names[::2], names[1::2], strict=True):
        assert (a, b) in pairs  # each pair's hard constraints clash by construction
        assert any(a in r.text and b in r.text for r in t.requirements), "resolve the conflict"
    assert 2 <= len(t.missing_info) <= 3
    for m in t.missing_info:
        assert any(m in r.text for r in t.requirements), f"nothing reasons about {m!r}"
    assert "conflict" in t.brief and "missing" in t.brief


def test_the_sim_reads_every_requirement_line() -> None:
    for lv in LEVELS:
        for t in generate_tasks(1, lv, 25):
            p = read_prompt((Message("user", render_task(t)),))
            got = [(r.id, r.kind, r.phase, r.after) for r in p.reqs]
            want = [(r.id, r.kind, r.phase, r.depends_on) for r in t.requirements]
            assert got == want
            assert p.level == lv and p.domains == t.domains
            assert p.stakeholders == [s.name for s in t.stakeholders]


def test_content_hash_covers_every_field() -> None:
    t = generate_tasks(0, "L4", 1)[0]
    fields = dict(
        level=t.level, domains=t.domains, title=t.title, brief=t.brief,
        requirements=t.requirements, stakeholders=t.stakeholders, missing_info=t.missing_info,
    )  # fmt: skip
    assert make_task(**fields) == t and make_task(**fields).content_hash == t.content_hash
    assert content_hash(t) == t.content_hash
    r0, s0 = t.requirements[0], t.stakeholders[0]
    changes = [
        {"title": t.title + "."},
        {"brief": t.brief + "."},
        {"domains": (*t.domains, "extra")},
        {"missing_info": t.missing_info[:-1]},
        {"stakeholders": (dataclasses.replace(s0, constraint="none"), *t.stakeholders[1:])},
        *(
            {"requirements": (dataclasses.replace(r0, **{k: v}), *t.requirements[1:])}
            for k, v in (("text", "x"), ("kind", "action" if r0.kind == "analysis" else "analysis"),
                         ("phase", 9), ("depends_on", (1,)))
        ),
    ]  # fmt: skip
    hashes = {make_task(**{**fields, **c}).content_hash for c in changes}
    assert len(hashes) == len(changes) and t.content_hash not in hashes
    built = Task(t.task_id, *(fields[k] for k in fields), content_hash=t.content_hash)
    assert built == t and hash(built.requirements) == hash(t.requirements)


def test_role_catalogue() -> None:
    assert role_catalogue("security") == DOMAIN_CATALOGUE["security"].roles
    assert len(role_catalogue("not-a-domain")) >= 4  # user files may name their own domains


@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
def test_export_round_trips(tmp_path: Path, ext: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"tasks.{ext}"
    assert main(["tasks", "export", "--n", "202", "--out", str(out), "--seed", "5"]) == 0
    assert "wrote 202 tasks (L1 51, L2 51, L3 50, L4 50)" in capsys.readouterr().out
    tasks = load_tasks(out)
    expected = [
        t for lv, k in zip(LEVELS, (51, 51, 50, 50), strict=True) for t in generate_tasks(5, lv, k)
    ]
    assert tasks == expected and [t.task_id for t in tasks] == [t.task_id for t in expected]


# ---- the tasks=file source --------------------------------------------------------------------


def _records(n: int = 8, level: str = "L3") -> list[dict]:
    return [t.to_record() for t in generate_tasks(0, level, n)]


def _write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _validate(capsys: pytest.CaptureFixture[str], *overrides: str) -> tuple[int, str]:
    rc = main(["validate", "tasks=file", *overrides])
    cap = capsys.readouterr()
    return rc, cap.out + cap.err


def test_bad_task_file_gets_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    recs = _records(3, "L1") + _records(3, "L3") + _records(1, "L4")
    kind = recs[6]["requirements"][2]["kind"]
    recs[6]["requirements"][2]["kind"] = "plan"
    _write(tmp_path / "tasks.jsonl", recs)
    rc, out = _validate(capsys, "tasks.path=tasks.jsonl")
    assert rc == 2
    assert out == (
        "orgsweep: error: 1 problem(s) in the config:\n"
        "  - tasks.path: tasks.jsonl line 7: field 'requirements[2].kind' must be "
        "'analysis' or 'action'\n"
    )
    recs[6]["requirements"][2]["kind"] = kind
    recs[1]["requirements"][1]["depends_on"] = [5]
    _write(tmp_path / "tasks.jsonl", recs)
    rc, out = _validate(capsys, "tasks.path=tasks.jsonl")
    assert (
        "tasks.jsonl line 2: field 'requirements[1].depends_on' must list ids of earlier "
        "requirements (1..1), got 5" in out
    )
    recs[1]["requirements"][1]["depends_on"] = []  # as exported (an L1 task)
    recs[1]["title"] += " (edited)"
    _write(tmp_path / "tasks.jsonl", recs)
    rc, out = _validate(capsys, "tasks.path=tasks.jsonl")
    assert "tasks.jsonl line 2: field 'content_hash' is " in out
    assert "the task was changed after export; remove the field (it is recomputed)" in out
    del recs[1]["content_hash"], recs[1]["task_id"]
    (tmp_path / "tasks.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in recs[:4]) + "{not json\n"
    )
    rc, out = _validate(capsys, "tasks.path=tasks.jsonl")
    assert (
        "tasks.jsonl line 5: not valid JSON (Expecting property name enclosed in double quotes, "
        "column 2)" in out
    )


def test_parquet_rows_and_short_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    tasks = generate_tasks(0, "L1", 2)
    bad = dataclasses.replace(tasks[1], level="L9")
    write_tasks([tasks[0], bad], tmp_path / "tasks.parquet")
    rc, out = _validate(capsys, "tasks.path=tasks.parquet")
    assert (
        rc == 2
        and "tasks.parquet row 2: field 'level' must be one of L1, L2, L3, L4, got 'L9'" in out
    )
    write_tasks(tasks, tmp_path / "tasks.parquet")  # smoke needs one L1 and one L3 task per block
    rc, out = _validate(capsys, "tasks.path=tasks.parquet")
    assert rc == 2 and (
        "tasks.path=tasks.parquet has 0 L3 task(s); block 'smoke' needs 1 (tasks_per_cell 1 x "
        "steps 1): add L3 tasks or lower tasks_per_cell" in out
    )


def test_plan_draws_block_tasks_from_the_file(tmp_path: Path) -> None:
    pool = generate_tasks(9, "L1", 6) + generate_tasks(9, "L3", 6)
    write_tasks(pool, tmp_path / "t.jsonl")
    known = {t.content_hash for t in pool}
    source = ["tasks=file", f"tasks.path={tmp_path / 't.jsonl'}"]
    cfg, _ = build(compose(source))
    assert cfg.tasks.source == "file" and len(cfg.tasks.by_level["L3"]) == 6

    def drawn(c: SweepConfig) -> list[str]:
        specs = plan(c).specs
        assert specs and all(t.content_hash in known for s in specs for t in s.tasks)
        return [s.tasks[0].content_hash for s in specs]

    first = drawn(cfg)
    assert first == drawn(build(compose(source))[0])  # deterministic
    assert {drawn(dataclasses.replace(cfg, seed=s))[0] for s in range(1, 8)} - {first[0]}
    in_order = drawn(build(compose([*source, "tasks.shuffle=false"]))[0])
    assert set(in_order) == {pool[0].content_hash, pool[6].content_hash}


def test_hand_written_tasks_need_few_fields(tmp_path: Path) -> None:
    rec = {
        "level": "L2",
        "domains": ["legal", "data"],
        "title": "Contract data review",
        "brief": "Review what our contracts allow us to do with customer data.",
        "requirements": [
            {"text": "List the data clauses", "kind": "analysis"},
            {"text": "Propose a fix", "kind": "action", "depends_on": [1]},
        ],
    }
    _write(tmp_path / "mine.jsonl", [rec])
    (t,) = load_tasks(tmp_path / "mine.jsonl")
    assert t.task_id == f"t-{t.content_hash[:12]}" and t.requirements[1] == Requirement(
        2, "Propose a fix", "action", 1, (1,)
    )
    assert role_catalogue("legal")  # unknown domains still work with fixed roles
    assert Stakeholder("a", "b", "c").to_record() == {
        "name": "a",
        "interest": "b",
        "constraint": "c",
    }
