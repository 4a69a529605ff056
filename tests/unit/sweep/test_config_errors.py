"""Issue 16 item 5: each bad override gives one clear message (word for word), all at once."""

from __future__ import annotations

import pytest

from sweep.cli import main
from sweep.config import build, compose
from sweep.errors import ConfigError


def problems(*overrides: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        build(compose(list(overrides)))
    return e.value.problems


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seed=abc", "seed='abc': expected a whole number"),
        ("agent.temperature=hot", "agent.temperature='hot': expected a number"),
        ("cluster.runners=abc", "cluster.runners='abc': expected a whole number or null"),
        ("agent.temperature=-1", "agent.temperature=-1: expected a number in 0..2"),
        ("store_prompts=maybe", "store_prompts='maybe': expected true or false"),
        ("results_dir=", "results_dir='': expected a non-empty string"),
        ("sweep.limit=-3", "sweep.limit=-3: expected a whole number >= 0"),
        ("agent.max_tokens=0", "agent.max_tokens=0: expected a whole number >= 1"),
        (
            "+sweep.limt=10",
            "unknown key 'sweep.limt' (did you mean 'sweep.limit'?); valid in sweep: "
            "blocks, limit, name",
        ),
        (
            "sweep.limt=10",
            "unknown key 'sweep.limt' (did you mean 'sweep.limit'?); valid in sweep: "
            "blocks, limit, name",
        ),
        (
            "+foo=1",
            "unknown key 'foo'; valid: agent, allow_unpinned, backend, cluster, cost, judge, "
            "mission, models, prompt_version, protocols, results_dir, seed, store_prompts, sweep, "
            "tasks",
        ),
        (
            "+agent.temprature=1",
            "unknown key 'agent.temprature' (did you mean 'agent.temperature'?); valid in agent: "
            "max_tokens, temperature",
        ),
    ],
)
def test_each_bad_value_is_one_message(override: str, message: str) -> None:
    assert problems(override) == [message]


def test_every_problem_at_once_coercion_errors_too() -> None:
    got = problems("seed=abc", "sweep.limt=3", "sweep.blocks.0.protocols=[nope]")
    assert got[0] == (
        "unknown key 'sweep.limt' (did you mean 'sweep.limit'?); valid in sweep: "
        "blocks, limit, name"
    )
    assert "seed='abc': expected a whole number" in got
    assert any("protocol 'nope'; valid: broadcast" in p for p in got)


def test_cluster_unknown_key_and_type_error_together() -> None:
    got = problems("+cluster.runers=2", "cluster.max_attempts=x")
    assert got[0].startswith(
        "unknown key 'cluster.runers' (did you mean 'cluster.runners'?); valid in cluster: address,"
    )
    assert got[1] == "cluster.max_attempts='x': expected a whole number"


def test_valid_values_pass() -> None:
    typed, _ = build(compose(["seed=3", "agent.temperature=1", "store_prompts=true"]))
    assert (typed.seed, typed.temperature, typed.store_prompts) == (3, 1.0, True)


def test_cli_prints_no_traceback_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "seed=abc", "agent.temperature=hot"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "orgsweep: error: 2 problem(s) in the config:\n"
        "  - seed='abc': expected a whole number\n"
        "  - agent.temperature='hot': expected a number\n"
    )


def test_config_prints_the_resolved_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "sweep.limit=3", "seed=7"]) == 0
    out = capsys.readouterr().out
    assert "  limit: 3\n" in out and "\nseed: 7\n" in out
    assert main(["launch", "--cfg", "job", "seed=8"]) == 0  # as Hydra apps do; nothing runs
    assert "\nseed: 8\n" in capsys.readouterr().out
    assert main(["config", "seed=abc"]) == 2  # printed, then every problem
    assert "seed='abc': expected a whole number" in capsys.readouterr().err
