"""Reading the code blocks of the README and the docs pages, for the tests that run them.

A fenced block is run unless the comment line just above it says otherwise:

- ``<!-- illustrative: REASON -->``: shown, never run (a placeholder URL, a deployment
  file); the reason is said in the page's source. They are few, and counted by a test.
- ``<!-- tested: NAME -->``: run by a test of its own (``tests/test_packaging.py`` and
  ``tests/test_aioresponses.py`` look the block up by its marker).

Blocks with no language (a command synopsis) and ``console`` blocks (a transcript of what
a terminal printed) are text, not code. Python blocks whose only line is a
``--8<-- "examples/..."`` include show an example's file; the examples are run by
``tests/test_examples.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_MARKER = re.compile(r"<!--\s*(?P<kind>illustrative|tested)\s*:\s*(?P<note>.*?)\s*-->")
_INCLUDE = re.compile(r'^\s*--8<--\s+"[^"]+"\s*$')


@dataclass(frozen=True)
class Block:
    """One fenced code block of a markdown page."""

    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    marker: str | None  # "illustrative" or "tested"
    note: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def is_include(self) -> bool:
        lines = [line for line in self.code.splitlines() if line.strip()]
        return bool(lines) and all(_INCLUDE.match(line) for line in lines)


def pages() -> list[Path]:
    """The README and every page of the docs site."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, dedented, with the marker just above it, if any."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        indent = match["indent"]
        body = "".join(
            line.removeprefix(indent) for line in match["body"].splitlines(keepends=True)
        )
        above = text[: match.start()].rstrip().rsplit("\n", 1)[-1].strip()
        marker = _MARKER.fullmatch(above)
        found.append(
            Block(
                path=path,
                line=text.count("\n", 0, match.start()) + 1,
                lang=match["lang"],
                code=body,
                marker=marker["kind"] if marker else None,
                note=marker["note"] if marker else "",
            )
        )
    return found


def shell_commands(code: str) -> list[str]:
    """The lines of a shell block the runner executes: ``phygitals``, ``curl``, ``VAR=``.

    Continuation lines are joined, comments dropped. Installing (``pip``, ``python3 -m
    venv``) and the repository's own tools (``mkdocs``, ``python -m benchmarks``) are left
    to CI, which runs them itself.
    """
    joined = re.sub(r"\\\n\s*", " ", code)
    commands = []
    for raw in joined.splitlines():
        line = raw.strip()
        if re.match(r"(phygitals|curl)\s|[A-Z_]+=\S+$", line):
            commands.append(line)
    return commands
