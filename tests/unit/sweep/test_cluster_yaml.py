"""cluster.yaml and conf/model/*.yaml: offline checks that catch a broken launch before `ray up`.

cluster.yaml is validated by Ray's own autoscaler code (the schema and checks `ray up` runs), with
the network and boto3 blocked to prove no cloud call happens. Model files are checked against
the exact key list of ``agents.catalogue.ModelSpec`` and against the GPU node types of cluster.yaml.
"""

from __future__ import annotations

import copy
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CLUSTER_YAML = ROOT / "cluster.yaml"
MODEL_FILES = sorted((ROOT / "conf" / "model").glob("*.yaml"))
OPEN_MODEL_FILES = [p for p in MODEL_FILES if not yaml.safe_load(p.read_text())["hosted"]]

MODEL_KEYS = [
    "name", "hf_id", "revision", "family", "provider", "params_b", "active_params_b",
    "tensor_parallel_size", "pipeline_parallel_size", "max_model_len", "max_num_seqs",
    "replicas", "hosted", "price_in_per_mtok", "price_out_per_mtok", "gpu_hour_usd", "sim",
]  # fmt: skip
SIM_KEYS = ["capability", "verbosity", "abstention", "tokens_per_s", "judge"]

# Per-GPU memory of the accelerator types cluster.yaml may declare, and what AWS instance types
# really carry, so a node type cannot advertise GPUs its instance does not have.
GPU_MEMORY_GB = {"H100": 80, "H200": 141}
INSTANCE_GPUS = {
    "p5.48xlarge": (8, "H100"),
    "p5e.48xlarge": (8, "H200"),
    "p5en.48xlarge": (8, "H200"),
}
# Checkpoints that ship FP8 without saying so in their id (one byte per parameter).
FP8_NATIVE = {"deepseek-ai/DeepSeek-V3.2"}
WEIGHT_SHARE = 0.9  # weights may use at most this share of the replica's GPU memory


def ray_validate(cfg: dict[str, Any]) -> None:
    """Validate a cluster config the way `ray up` does, offline.

    Private Ray API (ray.autoscaler._private.util, checked with ray 2.60): the only offline
    validator Ray has (`ray up` has no dry-run). prepare_config merges the provider defaults that
    validate_config requires; for AWS it reads a YAML file and calls no cloud API.
    """
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(copy.deepcopy(cfg)))


@pytest.fixture(scope="module")
def cluster() -> dict[str, Any]:
    return yaml.safe_load(CLUSTER_YAML.read_text())


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any network connection or boto3 import fail loudly."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("cluster.yaml validation tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.setitem(sys.modules, "botocore", None)


def gpu_node_types(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """GPU worker types as {name: {gpus, accelerator, max_workers}}."""
    out = {}
    for name, spec in cluster["available_node_types"].items():
        res = spec["resources"]
        if res.get("GPU", 0) > 0:
            accel = [k.split(":", 1)[1] for k in res if k.startswith("accelerator_type:")]
            assert len(accel) == 1, f"{name}: declare exactly one accelerator_type:<GPU>"
            out[name] = {"gpus": res["GPU"], "accel": accel[0], "max_workers": spec["max_workers"]}
    return out


def load_model(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


# --- cluster.yaml ---------------------------------------------------------------------------


def test_cluster_yaml_passes_ray_validation_without_cloud_calls(cluster, offline):
    ray_validate(cluster)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda c: c.update(cluster_nme=c.pop("cluster_name")), "'cluster_nme' was unexpected"),
        (lambda c: c.update(max_workers="four"), "'four' is not of type 'integer'"),
        (lambda c: c["available_node_types"]["gpu_h100x8"].pop("resources"), "'resources'"),
    ],
    ids=["typo-key", "string-max-workers", "node-type-without-resources"],
)
def test_corrupted_cluster_yaml_is_rejected(cluster, offline, corrupt, message):
    import jsonschema

    bad = copy.deepcopy(cluster)
    corrupt(bad)
    with pytest.raises(jsonschema.ValidationError, match=message):
        ray_validate(bad)


def test_head_is_cpu_only_and_gpu_types_match_their_instances(cluster):
    types = cluster["available_node_types"]
    head = types[cluster["head_node_type"]]["resources"]
    assert head.get("GPU", 0) == 0 and head.get("head") == 1
    gpu_types = gpu_node_types(cluster)
    assert gpu_types, "cluster.yaml has no GPU worker type"
    for name, t in gpu_types.items():
        instance = types[name]["node_config"]["InstanceType"]
        assert INSTANCE_GPUS.get(instance) == (t["gpus"], t["accel"]), f"{name}: {instance}"
    per_type = sum(spec.get("max_workers", 0) for spec in types.values())
    assert per_type <= cluster["max_workers"]


def test_token_auth_is_set_on_every_node(cluster):
    starts = cluster["head_start_ray_commands"] + cluster["worker_start_ray_commands"]
    for cmd in (c for c in starts if "ray start" in c):
        assert "RAY_AUTH_MODE=token ray start" in cmd, cmd
    assert any(remote.endswith(".ray/auth_token") for remote in cluster["file_mounts"])


# --- conf/model/*.yaml ----------------------------------------------------------------------


def test_model_catalogue_is_there():
    names = {p.stem for p in MODEL_FILES}
    assert {"deepseek_v32", "glm5", "gpt54", "claude_sonnet_46"} <= names
    assert len(OPEN_MODEL_FILES) == 8


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.stem)
def test_model_file_has_exactly_the_spec_keys(path):
    d = load_model(path)
    assert list(d) == MODEL_KEYS
    assert list(d["sim"]) == SIM_KEYS
    assert d["name"] == path.stem
    assert path.read_text().startswith("# ") and "Used by:" in path.read_text().splitlines()[0]


def test_model_names_are_unique():
    names = [load_model(p)["name"] for p in MODEL_FILES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.stem)
def test_model_file_builds_a_model_spec(path):
    models = pytest.importorskip("agents.catalogue")
    d = load_model(path)
    spec = models.ModelSpec(**{**d, "sim": models.SimProfile(**d["sim"])})
    assert spec.gpus == d["tensor_parallel_size"] * d["pipeline_parallel_size"]


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.stem)
def test_model_values_are_plausible(path):
    d = load_model(path)
    tp = d["tensor_parallel_size"]
    assert tp in (1, 2, 4, 8), "tensor_parallel_size must be a power of two <= 8"
    assert d["pipeline_parallel_size"] >= 1 and d["replicas"] >= 1
    assert d["max_model_len"] > 0 and d["max_num_seqs"] > 0
    sim = d["sim"]
    assert 0 <= sim["capability"] <= 1 and 0 <= sim["abstention"] <= 1
    assert sim["verbosity"] > 0 and sim["tokens_per_s"] > 0
    if d["hosted"]:
        assert (tp, d["pipeline_parallel_size"], d["gpu_hour_usd"]) == (1, 1, None)
        assert d["price_in_per_mtok"] > 0 and d["price_out_per_mtok"] > 0
    else:
        assert d["price_in_per_mtok"] is None and d["price_out_per_mtok"] is None
        assert d["gpu_hour_usd"] > 0
        assert 0 < d["active_params_b"] <= d["params_b"]


@pytest.mark.parametrize("path", OPEN_MODEL_FILES, ids=lambda p: p.stem)
def test_self_hosted_model_fits_a_gpu_node_type(cluster, path):
    d = load_model(path)
    tp, pp = d["tensor_parallel_size"], d["pipeline_parallel_size"]
    bytes_per_param = 1 if d["hf_id"].endswith("-FP8") or d["hf_id"] in FP8_NATIVE else 2
    weights_gb = d["params_b"] * bytes_per_param
    fits = [
        name
        for name, t in gpu_node_types(cluster).items()
        if tp <= t["gpus"]  # a tensor-parallel group never spans nodes
        and d["replicas"] * tp * pp <= t["gpus"] * t["max_workers"]
        and weights_gb <= WEIGHT_SHARE * tp * pp * GPU_MEMORY_GB[t["accel"]]
    ]
    assert fits, f"{d['name']}: {weights_gb:.0f} GB on TP{tp} x PP{pp} fits no GPU node type"
