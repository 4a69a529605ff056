"""A launch records provenance: sweep.yaml's provenance block and the part files' Parquet
key-value metadata (sweep/provenance.py)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from sweep.cli import main
from sweep.results.store import ResultStore

pytestmark = pytest.mark.integration


def test_launch_manifest_and_parquet_metadata_carry_provenance(tmp_path: Path) -> None:
    res = tmp_path / "r"
    assert main(["launch", f"results_dir={res}", "sweep.limit=1", "--no-progress"]) == 0
    manifest = yaml.safe_load((res / "sweep.yaml").read_text())
    prov = manifest["provenance"]
    assert prov["backend"] == "sim" and prov["versions"]["scipy"]
    assert prov["versions"]["numpy"] and prov["versions"]["openai"]
    assert "hardware" in prov and "orgsweep_commit" in prov
    part = next((res / "runs").glob("*.parquet"))
    meta = pq.read_schema(part).metadata
    assert meta[b"orgsweep.backend"] == b"sim"
    assert meta[b"orgsweep.version"]
    assert ResultStore(str(res)).exists()
