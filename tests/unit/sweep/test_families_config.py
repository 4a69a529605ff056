"""A block's ``families:`` (Holm families, docs/design/inference.md) is checked with the rest of
the config: unknown factors and non-name values are reported with the valid factors."""

from __future__ import annotations

import pytest

from sweep.config import build, compose
from sweep.errors import ConfigError


def test_declared_families_are_accepted_and_checked() -> None:
    typed, _ = build(compose(["+sweep.blocks.0.families={protocol: table_iii}"]))
    assert typed.blocks[0].name == "smoke"  # the key is known and does not change the plan
    with pytest.raises(ConfigError) as e:
        build(compose(["+sweep.blocks.0.families={protocols: table_iii, level: 3}"]))
    msg = str(e.value)
    assert (
        "sweep.blocks[0] (smoke): families key 'protocols'; valid: protocol, model, n_agents, "
        "level, roles"
    ) in msg
    assert "sweep.blocks[0] (smoke): families.level must be a name" in msg
