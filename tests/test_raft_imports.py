"""The core and the simulator touch no sockets, clocks, asyncio, uuid or global randomness."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"socket", "asyncio", "time", "uuid", "threading", "os", "selectors", "datetime"}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / "net" / package).glob("*.py"))


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", _modules("raft") + _modules("sim"), ids=lambda p: p.name)
def test_no_io_clock_or_global_randomness(path: Path) -> None:
    tree = ast.parse(path.read_text())
    bad = _imports(tree) & FORBIDDEN
    assert not bad, f"{path} imports {bad}"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "random":
            pytest.fail(f"{path}: from random import ...")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "random"
        ):
            assert node.attr == "Random", f"{path} uses random.{node.attr} (global state)"


@pytest.mark.parametrize("path", _modules("raft"), ids=lambda p: p.name)
def test_core_imports_no_randomness_at_all(path: Path) -> None:
    assert "random" not in _imports(ast.parse(path.read_text()))  # the rng is injected


def test_the_check_sees_the_modules() -> None:
    assert len(_modules("raft")) >= 10 and len(_modules("sim")) >= 8
