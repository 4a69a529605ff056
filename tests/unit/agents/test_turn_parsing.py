"""A coordinator's worker must do its assignment: an empty contribution is invalid output."""

from __future__ import annotations

import json

import pytest

from agents.contract import OutputError, parse_turn

DECLINES = json.dumps(
    {"role": "Analyst", "participate": False, "contribution": "", "builds_on": [], "rationale": "x"}
)


def test_a_free_agent_may_decline_with_no_contribution() -> None:
    turn = parse_turn(DECLINES)
    assert not turn.participate and turn.contribution == ""


def test_a_worker_that_must_participate_cannot_hand_in_nothing() -> None:
    with pytest.raises(OutputError, match="'contribution' must not be empty when participating"):
        parse_turn(DECLINES, must_participate=True)
    done = json.loads(DECLINES) | {"contribution": "The plan: ..."}
    turn = parse_turn(json.dumps(done), must_participate=True)
    assert turn.participate and turn.contribution == "The plan: ..."
