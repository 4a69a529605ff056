"""The sim judge's synthetic judge-model profile: zero changes nothing; noise makes two sim
judges disagree; length and position sensitivity let pad and shuffle move a sim score."""

from __future__ import annotations

import json

from agents.backends.chat import ChatRequest
from agents.backends.sim import respond
from agents.catalogue import ModelSpec, SimJudgeProfile, SimProfile
from agents.judge import DIMENSIONS, JUDGE_SCHEMA, judge_messages
from agents.probes import pad, shuffle
from agents.tasks import generate_tasks

TASKS = generate_tasks(0, "L3", 12)
MISSION = "Help enterprise customers run secure, reliable and cost-effective operations."


def _deliverable(task_index: int) -> str:
    """Contributions covering the task's requirements, one per contribution, long enough."""
    reqs = [line.split()[0] for line in _task_text(task_index).splitlines() if line[:1] == "R"]
    return "\n\n".join(
        f"### Analyst {i} (agent {i})\n[{r}] Implemented the step for {r}. (checked) " + "x " * 200
        for i, r in enumerate(reqs)
    )


def _task_text(i: int) -> str:
    from agents.prompts import render_task

    return render_task(TASKS[i])


def _scores(profile: SimJudgeProfile, text: str, i: int, name: str = "j") -> dict[str, int]:
    model = ModelSpec(name, "org/j", sim=SimProfile(judge=profile))
    req = ChatRequest(
        model, judge_messages(TASKS[i], MISSION, text), 0.0, 512, 11, "judge", JUDGE_SCHEMA, "judge"
    )
    reply = json.loads(respond(req))
    return {d: reply[d] for d in DIMENSIONS}


def test_a_zero_profile_is_the_rule_based_judge() -> None:
    for i in range(4):
        text = _deliverable(i)
        assert _scores(SimJudgeProfile(), text, i) == _scores(SimJudgeProfile(), text, i, "other")


def test_noise_makes_two_sim_judges_disagree_deterministically() -> None:
    noisy = SimJudgeProfile(noise=0.6)
    base = [_scores(SimJudgeProfile(), _deliverable(i), i) for i in range(12)]
    a = [_scores(noisy, _deliverable(i), i, "a") for i in range(12)]
    b = [_scores(noisy, _deliverable(i), i, "b") for i in range(12)]
    assert a == [_scores(noisy, _deliverable(i), i, "a") for i in range(12)]
    assert a != b and a != base
    assert all(1 <= v <= 4 for s in a + b for v in s.values())


def test_length_sensitivity_lets_padding_raise_a_sim_score() -> None:
    prof = SimJudgeProfile(leniency=-1.0, length_sensitivity=1.0)
    texts = [_deliverable(i) for i in range(6)]
    before = sum(sum(_scores(prof, t, i).values()) for i, t in enumerate(texts))
    after = sum(sum(_scores(prof, pad(t, 0), i).values()) for i, t in enumerate(texts))
    assert after > before
    ref = [_scores(SimJudgeProfile(), t, i) for i, t in enumerate(texts)]
    assert ref == [_scores(SimJudgeProfile(), pad(t, 0), i) for i, t in enumerate(texts)]


def test_position_sensitivity_skims_late_contributions() -> None:
    prof = SimJudgeProfile(position_sensitivity=0.9)
    full = [_scores(SimJudgeProfile(), _deliverable(i), i)["completeness"] for i in range(12)]
    skim = [_scores(prof, _deliverable(i), i)["completeness"] for i in range(12)]
    assert sum(skim) < sum(full)
    moved = [_scores(prof, shuffle(_deliverable(i), 1), i) for i in range(12)]
    assert moved != [_scores(prof, _deliverable(i), i) for i in range(12)]


def test_catalogue_judges_have_profiles_and_the_default_judge_is_the_reference() -> None:
    from sweep.config import build, compose

    models = build(compose([]))[0].models
    assert models["qwen3_235b"].sim.judge == SimJudgeProfile()
    assert models["glm5"].sim.judge != SimJudgeProfile()
    assert all(m.family and m.provider for m in models.values())
