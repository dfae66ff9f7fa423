"""The package's wings import one another in one direction, each through its face.

The graph is read from the source with :mod:`ast` (every ``import``, at module level, in a
function or under ``TYPE_CHECKING``), so a cycle hidden in a lazy import still counts.
:data:`LAYERS` is the table of wings, lowest first, with the wings each may import: a
crossing the table does not list fails, and so does one that runs back up the table.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import phygitals_async

ROOT = Path(phygitals_async.__file__).parent
PACKAGE = "phygitals_async"

# The modules of the flat hall that are a wing of their own.
BASE = {
    "_errors",
    "_errors_api",
    "_errors_sdk",
    "_version",
    "_limits",
    "_models",
    "_models_base",
    "_models_shipping",
    "_validation",
    "_tracing",
    "_fork",
}
# The client's modules: AsyncPhygitals and its endpoint groups, polls, the blocking twin.
CLIENT = {
    "_client",
    "_client_purchases",
    "_client_sellback",
    "_client_shipping",
    "_polling",
    "_portal",
    "_portal_handles",
    "_sync",
}

# Each wing, lowest first, and the wings it may import (its own modules aside).
LAYERS: dict[str, set[str]] = {
    "base": set(),  # errors, models, limits, validation, tracing, fork, version
    "_decode": {"base"},  # the wire format: knows nothing of HTTP
    "_config": {"base", "_decode"},  # Settings
    "_http": {"base", "_decode", "_config"},  # the seam: knows nothing of bulk or journals
    "_journal": {"base"},  # and of base only the errors (see below)
    "_bulk": {"base", "_http", "_journal"},
    "client": {"base", "_decode", "_config", "_http", "_journal", "_bulk"},
    "face": {"base", "_http", "_journal", "client"},  # phygitals_async/__init__.py
    "testing": {"client"},  # the sandbox kit: nothing of the command line
    "cli": {"base", "_decode", "_config", "_http", "_journal", "client", "testing"},
}
# The one module of base the journal wing may import.
JOURNAL_NEEDS = {f"{PACKAGE}._errors"}
# Wings whose other modules import them through their __init__ only.
FACED = {"_decode", "_http", "_journal", "_bulk", "cli", "testing"}
# Crossings allowed past a face, each with its reason.
PAST_THE_FACE = {
    # The parsers of the sandbox's start-up options: the command line's, not public API.
    (f"{PACKAGE}.cli._serve", f"{PACKAGE}.testing._specs"),
}


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


def wing(module: str) -> str:
    """The wing of a module of the package."""
    parts = module.split(".")
    if len(parts) == 1:
        return "face"
    if parts[1] in BASE:
        return "base"
    if parts[1] in CLIENT:
        return "client"
    return parts[1]


CROSSINGS = sorted(
    (importer, imported)
    for importer, deps in GRAPH.items()
    for imported in deps
    if wing(importer) != wing(imported)
)


def test_the_graph_is_read() -> None:
    assert f"{PACKAGE}._http" in GRAPH[f"{PACKAGE}._client"]
    assert f"{PACKAGE}._errors" in GRAPH[f"{PACKAGE}._http._transport"]
    assert {wing(m) for m in GRAPH} == set(LAYERS)


def test_no_import_cycle() -> None:
    try:
        tuple(TopologicalSorter(GRAPH).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_the_table_runs_one_way() -> None:
    """Each wing may import only wings listed before it: no arrow runs back up."""
    order = list(LAYERS)
    for name, allowed in LAYERS.items():
        assert all(order.index(other) < order.index(name) for other in allowed), name


@pytest.mark.parametrize(("importer", "imported"), CROSSINGS)
def test_each_crossing_is_in_the_table(importer: str, imported: str) -> None:
    """A module imports another wing only where the table allows it."""
    assert wing(imported) in LAYERS[wing(importer)], f"{importer} imports {imported}"
    if wing(importer) == "_journal":
        assert imported in JOURNAL_NEEDS, f"the journal wing imports {imported}"


@pytest.mark.parametrize(("importer", "imported"), CROSSINGS)
def test_each_wing_is_imported_through_its_face(importer: str, imported: str) -> None:
    """Other wings import a folder's ``__init__``, never the modules behind it."""
    if wing(imported) in FACED and (importer, imported) not in PAST_THE_FACE:
        assert imported == f"{PACKAGE}.{wing(imported)}", f"{importer} imports {imported}"


def test_the_rules_of_the_design() -> None:
    """The rules DESIGN.md states, read off the table."""
    assert "_bulk" not in LAYERS["_http"]
    assert "_http" not in LAYERS["_decode"]
    assert LAYERS["_journal"] == {"base"}
    assert not any("cli" in allowed for allowed in LAYERS.values())
    assert [name for name, allowed in LAYERS.items() if "testing" in allowed] == ["cli"]
