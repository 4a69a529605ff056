"""Hydra composition from any directory, and errors a newcomer can act on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sweep.cli import main
from sweep.config import build, compose
from sweep.errors import ConfigError, UserError


def test_composes_from_any_working_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = compose([])
    assert cfg.sweep.name == "smoke"
    assert cfg.results_dir == "results/smoke"
    assert cfg.backend.name == "sim"


def test_unknown_group_option_is_one_line_listing_valid_names() -> None:
    with pytest.raises(UserError) as e:
        compose(["sweep=nope"])
    msg = str(e.value)
    assert "\n" not in msg
    assert "nope" in msg and "smoke" in msg


def test_unknown_key_is_one_line() -> None:
    with pytest.raises(UserError) as e:
        compose(["not_a_key=1"])
    assert isinstance(e.value, ConfigError)
    assert e.value.problems[0].startswith(
        "unknown key 'not_a_key'; valid: agent, allow_unpinned, backend,"
    )


def test_every_problem_reported_at_once() -> None:
    cfg = compose(
        [
            "sweep.blocks.0.models=[llama31_8b,no_such_model]",
            "sweep.blocks.0.levels=[L1,L9]",
            "sweep.blocks.0.n_agents=[0]",
            "judge.model=missing_judge",
        ]
    )
    with pytest.raises(ConfigError) as e:
        build(cfg)
    problems = e.value.problems
    text = "\n".join(problems)
    assert len(problems) >= 4
    for needle in ("no_such_model", "L9", "n_agents", "missing_judge"):
        assert needle in text
    assert "valid:" in text


def test_bad_protocol_param_names_the_valid_ones() -> None:
    cfg = compose(["+protocols.sequential.params.nonsense=3"])
    with pytest.raises(ConfigError) as e:
        build(cfg)
    assert "nonsense" in str(e.value) and "context_budget_tokens" in str(e.value)


def test_cli_prints_one_clear_line_without_traceback(capsys) -> None:
    assert main(["validate", "backend=nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("orgsweep: error:")
    assert "Traceback" not in err
    assert "sim" in err and len(err.strip().splitlines()) == 1


def test_validate_ok_and_plan_json(capsys) -> None:
    assert main(["validate"]) == 0
    assert "ok:" in capsys.readouterr().out
    import json

    assert main(["plan", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_runs"] == out["episodes"] >= 20


def test_full_error_env_shows_traceback(monkeypatch) -> None:
    monkeypatch.setenv("ORGSWEEP_FULL_ERROR", "1")
    with pytest.raises(UserError):
        main(["validate", "sweep=nope"])
    os.environ.pop("ORGSWEEP_FULL_ERROR", None)
