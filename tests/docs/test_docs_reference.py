"""The docs name only what exists, and the API reference has an entry for every public name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.docs_snippets import DOCS, pages

import phygitals_async
import phygitals_async.testing

PUBLIC = {
    "phygitals_async": set(phygitals_async.__all__),
    "phygitals_async.testing": set(phygitals_async.testing.__all__),
}
REFERENCE = sorted((DOCS / "reference").glob("*.md"))


def _entries() -> set[str]:
    found: set[str] = set()
    for page in REFERENCE:
        found |= set(re.findall(r"^::: ([\w.]+)\s*$", page.read_text(), re.MULTILINE))
    return found


def test_every_public_name_has_a_reference_entry() -> None:
    """Each name of both ``__all__`` lists is rendered by an ``:::`` entry of the reference."""
    entries = _entries()
    missing = [
        f"{module}.{name}"
        for module, names in PUBLIC.items()
        for name in sorted(names)
        if f"{module}.{name}" not in entries
    ]
    assert not missing, f"no reference entry for {missing}"


def test_the_reference_documents_only_public_names() -> None:
    """An entry names a public name of its module, never a private module's path."""
    for entry in _entries():
        module, _, name = entry.rpartition(".")
        assert name in PUBLIC.get(module, set()), entry


def test_the_reference_index_links_every_public_name() -> None:
    """The reference's first page links every name: any class is two clicks from the home."""
    index = (DOCS / "reference" / "index.md").read_text()
    for module, names in PUBLIC.items():
        for name in names:
            assert f"[{module}.{name}]" in index, name


def test_the_async_client_entry_lists_its_members_in_the_api_order() -> None:
    """AsyncPhygitals' entry lists its public members: the class's own, then each base's.

    Its endpoint groups are mixins in modules of their own, and an inherited member has no
    line of the class to be ordered by, so the entry names the members in the order the
    class and its bases define them (the blocking client's order): a method missing from the
    list would be missing from the page.
    """
    expected: list[str] = []
    for cls in phygitals_async.AsyncPhygitals.__mro__[:-1]:
        expected += [
            name for name in vars(cls) if not name.startswith("_") and name not in expected
        ]
    page = (DOCS / "reference" / "clients.md").read_text()
    entry = re.search(r"^::: phygitals_async\.AsyncPhygitals\n((?: {4}.*\n)+)", page, re.MULTILINE)
    assert entry is not None, "the AsyncPhygitals entry has no options"
    assert re.findall(r"^ +- (\w+)$", entry.group(1), re.MULTILINE) == expected


def _mentions(text: str) -> set[str]:
    """``phygitals_async.X`` paths, and backticked CamelCase names (``Pack``, ``Fault.status``)."""
    names = set(re.findall(r"\bphygitals_async(?:\.testing)?\.([A-Za-z_]\w*)", text))
    names -= {"testing", "pytest_plugin"}  # the subpackage and the plugin module
    # "phygitals_async._..." says the private modules exist, naming none of them.
    names = {name for name in names if not name.startswith("_") or name.endswith("__")}
    for code in re.findall(r"`([^`\n]+)`", text):
        head = re.fullmatch(r"([A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*)(?:[.(\[].*)?", code)
        if head:
            names.add(head.group(1))
    return names


# CamelCase names the docs use that are not the package's: other libraries' classes.
FOREIGN = {
    "AttributeError",
    "ClientResponse",
    "Decimal",
    "Infinity",
    "Model",  # any model class, as in `Model.from_dict(...)`
    "None",
    "Sequence",
    "NaN",
    "BatchSpanProcessor",
    "CancelledError",
    "ClientSession",
    "ConsoleSpanExporter",
    "ProcessPoolExecutor",
    "ResourceWarning",
    "RuntimeError",
    "ServerDisconnectedError",
    "TimeoutError",
    "TraceConfig",
    "TracerProvider",
    "ValueError",
    "DeprecationWarning",
    "SSLContext",
}


@pytest.mark.parametrize("page", pages(), ids=lambda page: page.name)
def test_the_docs_name_only_public_names_that_exist(page: Path) -> None:
    """A public name a page mentions is exported by ``phygitals_async`` or its testing kit."""
    text = page.read_text(encoding="utf-8")
    exported = PUBLIC["phygitals_async"] | PUBLIC["phygitals_async.testing"]
    unknown = sorted(_mentions(text) - exported - FOREIGN)
    assert not unknown, f"{page}: {unknown}"
