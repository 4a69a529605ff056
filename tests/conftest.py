"""Test tiers and shared fixtures.

Tiers: the default run (unit + ``integration`` tests on a local Ray); ``slow`` (``--run-slow``);
``llm`` (``--run-llm``: the CPU vLLM and real SmolLM2 weights, see README).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Ray's socket paths must stay under 108 bytes: a short temp root, whatever TMPDIR is (CI's is
# long). Subprocesses started by tests inherit it.
_RAY_TMP = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
os.environ["RAY_TMPDIR"] = _RAY_TMP


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_RAY_TMP, ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run tests marked slow")
    parser.addoption("--run-llm", action="store_true", help="run tests marked llm")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for marker, flag in (("slow", "--run-slow"), ("llm", "--run-llm")):
        if config.getoption(flag):
            continue
        skip = pytest.mark.skip(reason=f"needs {flag}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


def _ensure_local_ray() -> None:
    import ray

    if not ray.is_initialized():
        ray.init(
            address="local",  # never attach to another Ray instance on this machine
            num_cpus=4,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=200 * 1024**2,
        )


@pytest.fixture(scope="session")
def ensure_ray(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], None]]:
    """Call it to have the session's local Ray running (started at most once unless a test,
    e.g. a multi-node one, shut it down); stopped at the end of the session."""
    yield _ensure_local_ray
    import ray

    ray.shutdown()


@pytest.fixture
def ray_local(ensure_ray: Callable[[], None]) -> None:
    ensure_ray()


@pytest.fixture
def results_dir(tmp_path: Path) -> str:
    return str(tmp_path / "results")
