"""The tests' layout: a test module (test_*.py) is imported by nobody, nor is a conftest.py;
what tests share lives in tests/support/ (helpers) or a conftest.py (fixtures). Read from
the source (AST), nothing imported."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Everything that may import from tests/: the tests themselves, the benches, the code.
SCANNED = ("tests", "bench", "bot", "store", "scheduler", "sandbox")
SUPPORT = ROOT / "tests" / "support"
HOW = (
    "move what it shares to tests/support/ (a helper, a world, a step) or to a conftest.py "
    "(a fixture), and import it from there"
)


def _modules() -> Iterator[Path]:
    for top in SCANNED:
        yield from sorted((ROOT / top).rglob("*.py"))


def _dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imported(path: Path, source: str | None = None) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every module the file (or `source`, as if it were the file)
    imports, relative imports resolved; for `from package import name` both the package
    and package.name, since the name may be a module."""
    package = _dotted(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _dotted(path)
    if source is None:
        source = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _is_test_module(dotted: str) -> bool:
    last = dotted.rsplit(".", 1)[-1]
    return dotted.startswith("tests.") and last.startswith("test_")


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    found = []
    for path in _modules():
        for line, name in _imported(path):
            where = f"{path.relative_to(ROOT)}:{line} imports {name}"
            if _is_test_module(name):
                found.append(f"{where}, a test module: {HOW}")
            elif name.startswith("tests.") and name.rsplit(".", 1)[-1] == "conftest":
                found.append(f"{where}; fixtures reach tests by name, not by import: {HOW}")
    assert not found, "\n".join(found)


def test_code_shared_by_tests_lives_in_tests_support() -> None:
    allowed = {"__init__.py", "conftest.py"}
    stray = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if SUPPORT not in path.parents
        and path.name not in allowed
        and not path.name.startswith("test_")
    ]
    assert not stray, (
        "only test_*.py, conftest.py and __init__.py belong beside the tests; move these to "
        f"tests/support/: {', '.join(stray)}"
    )


def test_support_modules_are_not_tests() -> None:
    named_like_tests = [p.name for p in sorted(SUPPORT.rglob("test_*.py"))]
    assert not named_like_tests, (
        f"tests/support/ holds helpers, which pytest must not collect: rename {named_like_tests}"
    )


def test_the_check_sees_every_form_of_import() -> None:
    """The layout check is itself checked: each way of naming a test module is caught."""
    probe = ROOT / "tests" / "integration" / "probe.py"
    for source in (
        "import tests.integration.test_x\n",
        "from tests.integration.test_x import helper\n",
        "from tests.integration import test_x\n",
        "from .test_x import helper\n",
        "from . import test_x\n",
        "def f():\n    from tests.integration.test_x import helper\n",
    ):
        names = [name for _, name in _imported(probe, source)]
        assert "tests.integration.test_x" in names, (source, names)
        assert any(_is_test_module(name) for name in names), (source, names)
    assert not _is_test_module("tests.support.world")
