"""Self-preference: validate warns when the judge shares a family with a model it judges."""

from __future__ import annotations

import pytest

from sweep.cli import main
from sweep.config import build, compose


def test_paper_judge_and_swap_model_share_the_qwen_family(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "sweep=paper"]) == 0
    out = capsys.readouterr().out
    assert (
        "warning: block 's2_shocks': swap_model shock model 'qwen25_7b' shares the judge's "
        "family (qwen): judge model 'qwen3_235b' (alibaba) may prefer it (self-preference); "
        "choose a judge of another family (e.g. judge=gpt54)\n"
    ) in out
    assert out.count("shares the judge's family") == 1


def test_agent_models_of_the_judges_family_are_named() -> None:
    warns = build(compose(["sweep=protocols", "judge.model=llama31_8b"]))[1]
    assert [w for w in warns if "family" in w] == [
        "block 'protocols': agent model 'llama33_70b' shares the judge's family (llama): judge "
        "model 'llama31_8b' (meta) may prefer it (self-preference); choose a judge of another "
        "family (e.g. judge=gpt54)"
    ]
    assert not [w for w in build(compose(["sweep=protocols"]))[1] if "family" in w]
