"""The cost model's formulas and settings (sweep.cost): no Ray, no GPU."""

from __future__ import annotations

import dataclasses

import pytest

from agents.catalogue import ModelSpec
from sweep import cost
from sweep.errors import ConfigError

GPUS = {
    "H100": {
        "memory_gb": 80,
        "tflops": 1000.0,
        "prefill_mfu": 0.5,
        "decode_mfu": 0.1,
        "usd_per_gpu_hour": 6.0,
    },
    "H200": {
        "memory_gb": 141,
        "tflops": 1000.0,
        "prefill_mfu": 0.5,
        "decode_mfu": 0.15,
        "usd_per_gpu_hour": 8.0,
    },
}


def settings(**kw: object) -> cost.CostSettings:
    return cost.settings({"name": "t", "gpu_types": GPUS, **kw})


def model(**kw: object) -> ModelSpec:
    base = {
        "name": "m",
        "hf_id": "x/m",
        "params_b": 20.0,
        "active_params_b": 20.0,
        "tensor_parallel_size": 2,
    }
    return ModelSpec(**{**base, **kw})  # type: ignore[arg-type]


def test_rates_follow_the_flop_formula_and_scale_with_the_replica_gpus() -> None:
    s = settings()
    r = cost.rates(model(), s.gpu("H100"), s)
    # 2 GPUs x 1000 TFLOPS x MFU / (2 x 20e9 FLOPs per token)
    assert r.prefill_tok_s == pytest.approx(2 * 1000e12 * 0.5 / 40e9)
    assert r.decode_tok_s == pytest.approx(2 * 1000e12 * 0.1 / 40e9)
    r4 = cost.rates(model(tensor_parallel_size=4), s.gpu("H100"), s)
    assert r4.decode_tok_s == pytest.approx(2 * r.decode_tok_s)
    moe = cost.rates(model(params_b=200.0, active_params_b=10.0), s.gpu("H100"), s)
    assert moe.decode_tok_s == pytest.approx(2 * r.decode_tok_s)  # active params count


def test_per_model_overrides_replace_the_formula() -> None:
    s = settings(models={"m": {"decode_tok_s": 123.0, "load_s": 7.0}})
    r = cost.rates(model(), s.gpu("H100"), s)
    assert r.decode_tok_s == 123.0
    assert r.prefill_tok_s == pytest.approx(2 * 1000e12 * 0.5 / 40e9)
    assert cost.load_s(model(), s) == 7.0


def test_accelerator_is_the_cheapest_type_the_weights_fit() -> None:
    s = settings()
    assert cost.accelerator(model(), s).name == "H100"
    big = model(params_b=600.0, tensor_parallel_size=8)  # 1200 GB bf16: fits neither
    with pytest.raises(ConfigError, match="fit no GPU type"):
        cost.accelerator(big, s)
    fp8 = settings(models={"m": {"bytes_per_param": 1.0}})  # 600 GB: fits 8 x 141 x 0.8 only
    assert cost.accelerator(big, fp8).name == "H200"
    assert cost.accelerator(model(), s, available=("H200",)).name == "H200"


def test_load_time_grows_with_the_weights() -> None:
    s = settings(load_base_s=10.0, load_gb_per_s=4.0)
    assert cost.load_s(model(params_b=20.0), s) == pytest.approx(10.0 + 40.0 / 4.0)


def test_work_counts_only_uncached_prompt_tokens_in_prefill() -> None:
    s = settings()
    m = model()
    r = cost.rates(m, s.gpu("H100"), s)
    w = cost.self_hosted_work(m, 1e6, 1e5, 0.25, s)
    assert w.gpu_s == pytest.approx((0.75e6 / r.prefill_tok_s + 1e5 / r.decode_tok_s) * 2)
    assert cost.self_hosted_work(m, 1e6, 1e5, 0.0, s).gpu_s > w.gpu_s


def test_hosted_usd_uses_the_per_million_token_prices() -> None:
    m = dataclasses.replace(model(), hosted=True, price_in_per_mtok=2.0, price_out_per_mtok=8.0)
    assert cost.hosted_usd(m, 1e6, 5e5) == pytest.approx(2.0 + 4.0)
    assert cost.hosted_usd(model(), 1e6, 1e6) is None


def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as e:
        settings(reply_scale=0, judge="later", cache_hit_share=2.0, bogus=1)
    text = str(e.value)
    for part in (
        "cost.reply_scale=0",
        "cost.judge='later'",
        "cost.cache_hit_share=2.0",
        "unknown key(s) bogus",
    ):
        assert part in text


def test_runs_gpu_s_is_the_tokens_share_of_saturated_replicas() -> None:
    import asyncio

    from agents.backends.sim import SimBackend
    from sweep.config import build, compose
    from sweep.episode import run_episode
    from sweep.plan import plan

    cfg, _ = build(compose(["sweep=smoke", "backend=vllm"]))
    spec = plan(cfg).specs[0]
    row = asyncio.run(run_episode(spec, SimBackend())).runs[0]
    s = cost.default_settings()
    a, j = spec.model, spec.judge.model
    expected = (
        cost.rates(a, cost.accelerator(a, s), s).replica_s(
            row["prompt_tokens"], row["completion_tokens"]
        )
        * a.gpus
        + cost.rates(j, cost.accelerator(j, s), s).replica_s(
            row["judge_prompt_tokens"], row["judge_completion_tokens"]
        )
        * j.gpus
    )
    assert row["gpu_s"] == pytest.approx(expected)
    assert row["gpu_s"] > 0
    sim_spec = dataclasses.replace(spec, engine="sim")
    assert asyncio.run(run_episode(sim_spec, SimBackend())).runs[0]["gpu_s"] is None
    hosted = dataclasses.replace(a, hosted=True)
    assert cost.attributed_gpu_s(hosted, 100, 100) is None


def test_spent_sums_the_attributed_gpu_seconds_and_usd() -> None:
    from sweep.spend import Spent, lines

    assert lines(Spent(0.0, 0.0, 0, 0), None) == []
    (text,) = lines(Spent(1.5, 2.25, 10, 3, 1.0, 0.5, 2.0, 0.25), None)
    assert "1.50 GPU-h" in text and "USD 2.25" in text and "judge 0.50" in text
