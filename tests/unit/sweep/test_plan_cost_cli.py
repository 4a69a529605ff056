"""``orgsweep plan`` with the cost estimate (text and --json), without a GPU or an API key."""

from __future__ import annotations

import json

import pytest

from sweep.cli import main


def test_plan_json_has_the_cost_per_model_and_the_schedule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", "sweep=smoke", "backend=vllm", "cluster=ray", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    c = out["cost"]
    assert {m["model"] for m in c["models"]} >= {"mistral_small_24b", "qwen3_235b"}
    assert all(m["gpu_s"] > 0 and m["usd"] > 0 for m in c["models"])
    sched = c["scheduled"]
    assert sched["busy_share"] == pytest.approx(sched["busy_gpu_h"] / sched["billed_gpu_h"])
    assert sched["billed_gpu_h"] <= c["all_at_once"]["billed_gpu_h"]
    assert c["total"]["prompt_tokens"] == pytest.approx(
        sum(m["prompt_tokens"] for m in c["models"])
    )


def test_plan_for_hosted_models_needs_no_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["plan", "sweep=smoke", "backend=openai", "judge.model=gpt4o", "--json"]) == 0
    c = json.loads(capsys.readouterr().out)["cost"]
    judge = next(m for m in c["models"] if m["part"] == "judge")
    expected = (judge["prompt_tokens"] * 2.5 + judge["completion_tokens"] * 10.0) / 1e6
    assert judge["hosted"] and judge["usd"] == pytest.approx(expected)
    assert c["scheduled"] is None  # nothing to deploy


def test_plan_text_prints_the_schedule_and_the_comparison(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", "sweep=smoke", "backend=vllm", "cluster=ray"]) == 0
    out = capsys.readouterr().out
    assert "scheduled: makespan" in out and "all at once (today): makespan" in out
    assert "busy share" in out and "USD" in out


def test_a_missing_pilot_directory_is_one_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    assert main(["plan", "sweep=smoke", "--pilot", str(tmp_path / "nope")]) == 2
    assert "--pilot" in capsys.readouterr().err
