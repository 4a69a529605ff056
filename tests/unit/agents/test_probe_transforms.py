"""Bias-probe transforms: pure, deterministic, and each changes only what it says."""

from __future__ import annotations

import re

import pytest

from agents.probes import PROBES, anonymise, contributions, duplicate, pad, shuffle, truncate

TEXT = "\n\n".join(
    f"### {role} (agent {i})\n[R{i + 1}] Drafted the plan for R{i + 1}. (checked) "
    "Builds on agent 0."
    for i, role in enumerate(["Risk Analyst", "Data Engineer", "Ops Lead", "Legal Counsel"])
)


@pytest.mark.parametrize("kind", sorted(PROBES))
def test_every_probe_is_pure_and_deterministic(kind: str) -> None:
    assert PROBES[kind](TEXT, 7) == PROBES[kind](TEXT, 7)
    assert PROBES[kind]("", 7) == ""


def test_pad_doubles_the_length_with_content_free_filler() -> None:
    out = pad(TEXT, 0)
    assert out.startswith(TEXT) and len(out) == pytest.approx(2 * len(TEXT), abs=3)
    added = out[len(TEXT) :]
    for marker in ("[R", "(checked)", "(assumption)", "### ", "serves the mission", "agent "):
        assert marker not in added
    assert contributions(out)[:3] == contributions(TEXT)[:3]


def test_shuffle_reorders_the_same_contributions() -> None:
    out = shuffle(TEXT, 3)
    assert out != TEXT and sorted(contributions(out)) == sorted(contributions(TEXT))
    assert shuffle(TEXT, 3) != shuffle(TEXT, 4) or shuffle(TEXT, 5) != shuffle(TEXT, 3)
    assert shuffle("### A (agent 0)\nonly one", 1) == "### A (agent 0)\nonly one"


def test_anonymise_removes_agent_numbers_and_roles_only() -> None:
    out = anonymise(TEXT, 0)
    assert not re.search(r"agent \d", out, re.I) and "Analyst" not in out
    assert out.count("### Contribution\n") == 4
    bodies = [c.split("\n", 1)[1].replace("a contributor", "agent 0") for c in contributions(out)]
    assert bodies == [c.split("\n", 1)[1] for c in contributions(TEXT)]


def test_duplicate_repeats_one_contribution_at_the_end() -> None:
    parts, out = contributions(TEXT), contributions(duplicate(TEXT, 2))
    assert out[:-1] == parts and out[-1] in parts


def test_truncate_cuts_the_last_third() -> None:
    out = truncate(TEXT, 0)
    assert TEXT.startswith(out) and len(out) == pytest.approx(len(TEXT) * 2 / 3, abs=2)
    assert "[R4]" not in out  # the last contribution is gone
