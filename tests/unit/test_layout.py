"""The layout holds: the contracts between packages (pyproject's [tool.importlinter]: store
imports no telegram, ...), store/domain runs inside its caller's unit of work, no module
reaches for another's private names, and the packages import each other without cycles.
Read from the source (ast, grimp); nothing of the project is imported or run."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import grimp
from importlinter import configuration
from importlinter.application.use_cases import lint_imports

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("store", "bot", "scheduler", "sandbox")
UNIT_ENDS = {"commit", "rollback"}


def _modules(*packages: str) -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module of the packages (migrations are history)."""
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _module_names() -> set[str]:
    return {name for name, _ in _modules(*PACKAGES)}


def _where(name: str, node: ast.AST) -> str:
    return f"{name}:{getattr(node, 'lineno', '?')}"


def test_the_import_contracts_hold() -> None:
    configuration.configure()  # as the lint-imports command does (.ci/run runs it too)
    kept = lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None)
    assert kept, (
        "An import contract of pyproject's [tool.importlinter] is broken; the captured output "
        "names it and the import. Each contract's name says the rule: turn the import "
        "around (the lower package takes a parameter or a Protocol) or move the shared "
        "code down to where both may import it."
    )


def _unit_names(tree: ast.Module) -> set[str]:
    """The names a module gives units of work: `uow`, and any annotated UnitOfWork."""
    names = {"uow"}
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            target = node.arg if isinstance(node, ast.arg) else ast.unparse(node.target)
            if "UnitOfWork" in ast.unparse(node.annotation):
                names.add(target)
    return names


def _unit_work(tree: ast.Module) -> Iterator[tuple[ast.AST, str]]:
    """Where a module opens, commits or ends a unit of work, and how."""
    units = _unit_names(tree)

    def is_unit(expr: ast.expr) -> bool:  # `uow` or its session
        if isinstance(expr, ast.Attribute) and expr.attr == "session":
            expr = expr.value
        return isinstance(expr, ast.Name) and expr.id in units

    told: set[int] = set()  # calls already shown as what an `async with` opens
    for node in ast.walk(tree):  # breadth first: an `async with` before its calls
        if isinstance(node, ast.AsyncWith):
            for item in node.items:
                expr = item.context_expr
                if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
                    # `async with uow.reading():`, `store.uow()`, `store.read()`
                    if expr.func.attr in {"reading", "uow", "read"}:
                        told.add(id(expr))
                        yield node, f"async with {ast.unparse(expr)}"
                elif is_unit(expr):
                    yield node, f"async with {ast.unparse(expr)}"
        elif id(node) in told:
            continue
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            call, receiver = node.func.attr, node.func.value
            opens = call == "uow" or (
                call == "read" and ast.unparse(receiver).lower().endswith("store")
            )
            if opens or call == "reading" or (call in UNIT_ENDS and is_unit(receiver)):
                yield node, ast.unparse(node)


def test_store_domain_never_opens_or_ends_a_unit_of_work() -> None:
    found = sorted(
        f"{_where(name, node)}: {what}"
        for name, path in _modules("store/domain")
        for node, what in _unit_work(ast.parse(path.read_text()))
    )
    assert not found, (
        "store/domain runs inside a unit of work its caller opened, so it never opens, "
        "commits nor ends one. Take the open `uow` as a parameter and leave `async with`, "
        "commit and rollback to the use case (store/intake, repair, directory, reporting, "
        "delivery) that calls it:\n  " + "\n  ".join(found)
    )


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _outside_private_module(importer: str, source: str) -> bool:
    """Whether `source` lies in a private module (`a._b`) that `importer` is not part of."""
    parts = source.split(".")
    for i, part in enumerate(parts):
        if _private(part) and not importer.startswith(".".join(parts[:i]) + "."):
            return True
    return False


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The module an ImportFrom names, resolved against `module` when relative."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _private_reaches(module: str, path: Path, modules: set[str]) -> Iterator[str]:
    """Private names of another project module that `module` imports or reads."""
    tree = ast.parse(path.read_text())
    bound: dict[str, str] = {}  # local name -> the project module it holds
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, node, path.name == "__init__.py")
            if source.split(".")[0] not in PACKAGES:
                continue
            if _outside_private_module(module, source):
                yield f"{_where(module, node)}: from {source} import ..."
            for alias in node.names:
                full = f"{source}.{alias.name}"
                if full in modules:
                    bound[alias.asname or alias.name] = full
                if source != module and _private(alias.name):
                    yield f"{_where(module, node)}: from {source} import {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    if _outside_private_module(module, alias.name):
                        yield f"{_where(module, node)}: import {alias.name}"
                    local = alias.asname or alias.name.split(".")[0]
                    bound[local] = alias.name if alias.asname else local
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        chain: list[str] = []
        base: ast.expr = node.value
        while isinstance(base, ast.Attribute):
            chain.insert(0, base.attr)
            base = base.value
        if isinstance(base, ast.Name) and base.id in bound:
            owner = ".".join([bound[base.id], *chain])
            if owner in modules and owner != module:
                yield f"{_where(module, node)}: {ast.unparse(node)}"


def test_no_module_reaches_for_another_modules_private_names() -> None:
    modules = _module_names()
    found = [
        reach
        for name, path in _modules(*PACKAGES)
        for reach in _private_reaches(name, path, modules)
    ]
    assert not found, (
        "A leading underscore means 'only this module uses it'. Either make the name "
        "public where it belongs (a rule several use cases share goes to store/domain, "
        "a helper several flows share to a module they all import) or keep its use "
        "inside its module:\n  " + "\n  ".join(found)
    )


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    imported = sorted(graph.find_modules_directly_imported_by(child))
                    work.append((child, iter(imported)))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def _cycle_path(graph: grimp.ImportGraph, group: list[str]) -> str:
    """One import chain around the group, with the lines that make it."""
    first = group[0]
    onward = next(
        imported
        for imported in sorted(graph.find_modules_directly_imported_by(first))
        if imported in group
    )
    chain = graph.find_shortest_chain(importer=onward, imported=first) or (onward, first)
    hops = [first, *chain]
    lines = []
    for importer, imported in itertools.pairwise(hops):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = details[0] if details else {"line_number": "?", "line_contents": ""}
        lines.append(
            f"    {importer}:{where['line_number']} {where['line_contents']} -> {imported}"
        )
    return "\n".join(lines)


def test_the_packages_import_each_other_without_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    groups = _cycles(graph)
    assert not groups, (
        "Import cycles (imports under TYPE_CHECKING count: they tie the modules all the "
        "same). A module started or used by another does not import it back: move what "
        "both need into a module both import, or pass it in (a parameter, a Protocol):\n"
        + "\n".join(f"  {group}\n{_cycle_path(graph, group)}" for group in groups)
    )
