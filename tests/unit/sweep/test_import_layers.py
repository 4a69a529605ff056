"""The import contract, read from the source (every import statement, lazy ones included).

Layers, top to bottom: ``sweep.cli`` (and ``bench``), ``analysis``, ``sweep`` (the executor,
planner and config), ``sweep.results`` (the results format), ``agents``. A module imports only
its own layer and those below; only the CLI imports upward. Hence no cycle between ``sweep``,
``agents`` and ``analysis``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("sweep", "agents", "analysis")
# layer of a module: the longest matching prefix wins; higher numbers sit higher
LAYERS = {
    "agents": 0,
    "sweep.errors": 0,  # the user-error type every layer raises
    "sweep.results": 1,
    "sweep": 2,
    "analysis": 3,
    "sweep.cli": 4,
}


def layer(module: str) -> int | None:
    best = None
    for prefix in sorted(LAYERS, key=len):
        if module == prefix or module.startswith(prefix + "."):
            best = LAYERS[prefix]
    return best


def imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def modules() -> list[tuple[str, Path]]:
    out = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            out.append((".".join(p for p in rel.parts if p != "__init__"), path))
    return out


def violations() -> list[str]:
    bad = []
    for name, path in modules():
        own = layer(name)
        assert own is not None, name
        for line, target in imports(path):
            theirs = layer(target)
            if theirs is not None and theirs > own:
                where = f"{path.relative_to(ROOT)}:{line}"
                bad.append(f"{where}: {name} (layer {own}) imports {target} (layer {theirs})")
    return bad


def test_no_module_imports_a_layer_above_it() -> None:
    assert violations() == []


def test_the_contract_would_catch_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from analysis import load\n")
    assert imports(bad) == [(2, "analysis")]
    assert layer("agents.judge") == 0 and layer("analysis") == 3
    assert layer("sweep.results.store") == 1 and layer("sweep.cli.launch") == 4


@pytest.mark.parametrize("pkg", PACKAGES)
def test_every_package_is_walked(pkg: str) -> None:
    assert any(name.startswith(pkg + ".") for name, _ in modules())
