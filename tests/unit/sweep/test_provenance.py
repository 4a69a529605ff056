"""Provenance: sweep.yaml's versions, commit and hardware, the refusal of unpinned models on a
real backend (word for word), and the Parquet key-value metadata of part files (a launch that
writes them: tests/integration/test_provenance_launch.py)."""

from __future__ import annotations

import pytest

from agents.catalogue import ModelSpec
from sweep.cli import main
from sweep.config import build, compose
from sweep.errors import UserError
from sweep.plan import plan
from sweep.provenance import check_revisions, provenance
from sweep.results.metadata import part_metadata


def test_a_real_backend_refuses_revision_main_naming_the_model_and_the_fix() -> None:
    m = ModelSpec("llama31_8b", "meta-llama/Llama-3.1-8B-Instruct")
    with pytest.raises(UserError) as e:
        check_revisions("vllm", [m, m], allow_unpinned=False)
    assert str(e.value) == (
        "backend vllm: model revision 'main' is a moving target, so the results would not say "
        "which weights produced them: llama31_8b (meta-llama/Llama-3.1-8B-Instruct). Pin each "
        "to a Hugging Face commit: models.llama31_8b.revision=<commit sha> (the sha on the "
        "model page's 'Files and versions'), or pass allow_unpinned=true to run unpinned "
        "knowingly (sweep.yaml records it)."
    )
    check_revisions("sim", [m], allow_unpinned=False)  # the sim serves no weights
    check_revisions("vllm", [m], allow_unpinned=True)
    pinned = ModelSpec("llama31_8b", "meta-llama/Llama-3.1-8B-Instruct", revision="0e9e39f")
    hosted = ModelSpec("gpt4o", "gpt-4o", hosted=True)
    local = ModelSpec("smol", "/models/smollm2")
    check_revisions("openai", [pinned, hosted, local], allow_unpinned=False)


def test_validate_refuses_an_unpinned_real_sweep(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "backend=vllm"]) == 2
    err = capsys.readouterr()
    assert "model revision 'main' is a moving target" in err.err + err.out
    assert "Traceback" not in err.err


def test_provenance_block_names_versions_commit_and_hardware() -> None:
    typed, _ = build(compose(["backend=sim"]))
    models = [s.model for s in plan(typed).specs]
    doc = provenance("sim", models, allow_unpinned=False)
    for pkg in ("numpy", "scipy", "statsmodels", "polars", "pyarrow", "orgsweep"):
        assert doc["versions"][pkg]
    assert "orgsweep_commit" in doc and doc["hardware"]["cpus"] >= 1
    assert doc["unpinned_models"] == sorted({m.name for m in models})


def test_part_metadata_lists_the_rows_backends() -> None:
    meta = part_metadata([{"backend": "vllm"}, {"backend": "sim"}, {"backend": "vllm"}])
    assert meta["orgsweep.backend"] == "sim,vllm"
    assert part_metadata([])["orgsweep.backend"] == "unknown"
