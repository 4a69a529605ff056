"""``orgsweep plan``'s minimum detectable effects: statsmodels' paired t power at the family's
alpha, the Wilcoxon floor that makes small task counts unable to reject, declared families
pooling blocks, and the pilot's SD of paired differences."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.power import TTestPower

from analysis.power import DEFAULT_SD_DIFF, minimum_detectable, pilot_sd_diff
from sweep.config import Block, ProtocolRef

SEQ, COORD = ProtocolRef("sequential", ()), ProtocolRef("coordinator", ())


def _block(name: str, tasks: int, protocols: tuple[ProtocolRef, ...] = (SEQ, COORD)) -> Block:
    return Block(name, ("m1",), protocols, (4, 8), ("free",), ("L3",), tasks, (0,), 1, (None,))


def test_mde_is_the_paired_t_effect_at_the_family_alpha() -> None:
    rows = {r.factor: r for r in minimum_detectable((_block("b", 30),))}
    proto, n = rows["protocol"], rows["n_agents"]
    assert (proto.comparisons, proto.family, proto.units) == (2, "protocol/b", 30)  # one per N
    ref = float(TTestPower().solve_power(nobs=30, alpha=0.05 / 2, power=0.8))
    assert proto.mde_dz == pytest.approx(ref)
    assert proto.mde_q == pytest.approx(ref * DEFAULT_SD_DIFF)
    assert n.comparisons == 2  # largest vs smallest N, per protocol
    assert set(rows) == {"protocol", "n_agents"}  # one model, role mode and level: no tests


def test_too_few_tasks_can_never_reject() -> None:
    (proto, _) = minimum_detectable((_block("b", 4),))
    assert not proto.can_reject and math.isinf(proto.mde_dz)  # 2 / 2^4 > 0.05 / 2
    assert proto.to_dict()["mde_dz"] is None


def test_declared_family_pools_blocks_and_pilot_sd() -> None:
    blocks = (_block("b1", 40), _block("b2", 40))
    declared = {"b1": {"protocol": "table_iii"}, "b2": {"protocol": "table_iii"}}
    rows = [r for r in minimum_detectable(blocks, declared=declared) if r.factor == "protocol"]
    assert [(r.family, r.comparisons) for r in rows] == [("table_iii", 4)] * 2
    doc = {
        "comparisons": [
            {"paired": True, "delta": 0.1, "d_z": 1.0},
            {"paired": True, "delta": -0.05, "d_z": -0.25},
            {"paired": True, "delta": 0.02, "d_z": 0.5},
            {"paired": False, "delta": 0.3, "d_z": None},
        ]
    }
    assert pilot_sd_diff(doc) == pytest.approx(0.1)  # median of 0.1, 0.2, 0.04
    assert pilot_sd_diff({"comparisons": []}) is None
