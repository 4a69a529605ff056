"""Self-preference: warnings when the judge shares a model family with a model it judges.

A judge tends to prefer text of its own family; the paper avoids self-judging. The catalogue
(``conf/model/*.yaml``) records each model's ``family`` and ``provider``; ``validate`` (via
``sweep.config.build``) and ``orgsweep probe`` / ``rescore`` with another judge warn, naming both.
The same model (not only the family) is warned about by ``sweep.config`` itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from agents.catalogue import ModelSpec


def family_warnings(judge: ModelSpec, judged: Iterable[tuple[str, ModelSpec]]) -> list[str]:
    """One warning per (where, model) whose family is the judge's; ``where`` says which block
    and role (e.g. "block 'paper' agent model"). Models without a family are never warned."""
    out: list[str] = []
    for where, m in judged:
        if judge.family and m.family == judge.family and m.name != judge.name:
            out.append(
                f"{where} {m.name!r} shares the judge's family ({judge.family}): judge model "
                f"{judge.name!r} ({judge.provider or 'unknown provider'}) may prefer it "
                "(self-preference); choose a judge of another family (e.g. judge=gpt54)"
            )
    return list(dict.fromkeys(out))  # a model swapped in by several shocks: once
