"""The sim judge's judge-model profile (``SimJudgeProfile``, ``sim.judge`` in conf/model/).

Synthetic, like everything in the sim backend: it lets two sim judges disagree and a probe move
a sim score, so ``orgsweep agree`` and ``orgsweep probe`` can be tested end to end. It is a
measurement-error model, not a description of any real judge:

- ``position_sensitivity``: contribution i of n (0-based) is skimmed past, its requirement tags
  unseen, with chance ``position_sensitivity * i / (n - 1)`` (the first is always read);
- ``leniency`` + ``length_sensitivity * max(0, log2(chars / 1000))`` + N(0, ``noise``) is
  added to every dimension before rounding to the rubric's 1..4.

All zero draws nothing and changes nothing: the rule-based judge of ``sim.py`` as it was.
"""

from __future__ import annotations

import math
import random

from agents.catalogue import SimJudgeProfile

REFERENCE_CHARS = 1000


def skimmed(parts: list[str], prof: SimJudgeProfile, rng: random.Random) -> list[str]:
    """The contributions the judge reads (in order)."""
    if prof.position_sensitivity <= 0 or len(parts) < 2:
        return parts
    last = len(parts) - 1
    return [p for i, p in enumerate(parts) if rng.random() >= prof.position_sensitivity * i / last]


def adjusted(
    scores: dict[str, int], chars: int, prof: SimJudgeProfile, rng: random.Random
) -> dict[str, int]:
    """Scores after leniency, length bias and noise, clipped to 1..4."""
    lift = prof.leniency + prof.length_sensitivity * max(
        0.0, math.log2(max(chars, 1) / REFERENCE_CHARS)
    )
    if lift == 0 and prof.noise <= 0:
        return scores
    out = {}
    for d, v in scores.items():
        e = rng.gauss(0.0, prof.noise) if prof.noise > 0 else 0.0
        out[d] = min(4, max(1, round(v + lift + e)))
    return out
