"""The package's modules import one another without a cycle, and in one direction.

The graph is read from the source with :mod:`ast` (every ``import``, at module level, in a
function or under ``TYPE_CHECKING``), so a cycle hidden in a lazy import still counts.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import phygitals_async

ROOT = Path(phygitals_async.__file__).parent
PACKAGE = "phygitals_async"


def _module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # "from . import _bulk" imports a module; "from ._x import y" imports _x.
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for imported in targets:
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            # A submodule's own packages are always imported first: not an edge of the graph.
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.rglob("*.py"))
    modules = {_module_name(path) for path in paths}
    return {_module_name(path): _imports(path, modules) for path in paths}


GRAPH = _graph()


def test_the_graph_is_read() -> None:
    assert f"{PACKAGE}._http._transport" in GRAPH[f"{PACKAGE}._client"]
    assert f"{PACKAGE}._errors" in GRAPH[f"{PACKAGE}._http._transport"]


def test_no_import_cycle() -> None:
    try:
        tuple(TopologicalSorter(GRAPH).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_only_the_cli_entry_points_import_the_cli() -> None:
    cli = f"{PACKAGE}.cli"
    importers = {name for name, deps in GRAPH.items() if not name.startswith(cli) and cli in deps}
    # `python -m phygitals_async.testing` is `phygitals sandbox` by another name.
    assert importers == {f"{PACKAGE}.testing.__main__"}


def test_only_the_cli_imports_the_testing_package() -> None:
    testing = f"{PACKAGE}.testing"
    importers = {
        name
        for name, deps in GRAPH.items()
        if not name.startswith(testing) and any(dep.startswith(testing) for dep in deps)
    }
    # The command line serves and demos the sandbox; nothing below it may need it.
    assert importers == {f"{PACKAGE}.cli._main", f"{PACKAGE}.cli._serve"}
