"""Model descriptions: what a sweep needs to know about one LLM, whatever serves it.

A ``ModelSpec`` is built from one file of ``conf/model/``. Fields that change results (id,
revision) enter the episode id; serving fields (tensor parallelism, replicas, prices) do not.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimJudgeProfile:
    """How the synthetic backend plays this model as the JUDGE (agents/backends/sim_judge.py).
    Synthetic, never evidence about the model; all zero = the rule-based sim judge unchanged."""

    noise: float = 0.0  # sd of a normal error added to each dimension before rounding, points
    leniency: float = 0.0  # constant shift of every dimension, points (negative: strict)
    length_sensitivity: float = 0.0  # points per doubling of the deliverable beyond 1,000 chars
    position_sensitivity: float = 0.0  # 0..1: chance the last contribution is skimmed past


@dataclass(frozen=True)
class SimProfile:
    """How the synthetic backend plays this model (docs/design/sim.md). Never evidence about the
    model."""

    capability: float = 0.7  # 0..1: chance of a well-chosen, checked contribution
    verbosity: float = 1.0  # multiplies contribution length
    abstention: float = 0.5  # 0..1: calibration of "nothing useful left -> abstain"
    tokens_per_s: float = 50.0  # for simulated latency in benchmarks only
    judge: SimJudgeProfile = SimJudgeProfile()


@dataclass(frozen=True)
class ModelSpec:
    name: str  # registry name, e.g. "qwen3_235b"
    hf_id: str  # Hugging Face id, or the gateway's model name for hosted models
    revision: str = "main"
    family: str = ""  # model family (e.g. "qwen"): a judge of the agents' family self-prefers
    provider: str = ""  # who trains / serves it (e.g. "alibaba")
    params_b: float = 0.0  # total parameters, billions
    active_params_b: float = 0.0  # active per token (MoE), billions
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    max_model_len: int = 32768
    max_num_seqs: int = 128
    replicas: int = 1
    hosted: bool = False  # served by a provider, not by us
    price_in_per_mtok: float | None = None  # USD per million prompt tokens (hosted)
    price_out_per_mtok: float | None = None  # USD per million completion tokens (hosted)
    gpu_hour_usd: float | None = None  # USD per GPU-hour (self-hosted)
    sim: SimProfile = SimProfile()

    @property
    def gpus(self) -> int:
        return self.tensor_parallel_size * self.pipeline_parallel_size

    def identity(self) -> dict[str, str]:
        """The part of the model that changes a result."""
        return {"hf_id": self.hf_id, "revision": self.revision}
