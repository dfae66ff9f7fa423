"""Every code block of the README and the docs runs, against a local sandbox, never the network.

Each page runs in order in one namespace (a later block may use what an earlier one made),
in a fresh working directory, with ``PHYGITALS_BASE_URL`` and ``PHYGITALS_API_KEY`` pointing
at a sandbox on its own thread, so the pages' ``api_key="sandbox-..."`` and bare
``Phygitals()`` reach it. Before each block ``client`` is the page's open ``AsyncPhygitals``
(the guides say their examples assume one), and the sandbox has items for ``u1``. Python
blocks may ``await`` at top level, as in a notebook; every such block runs on the page's
one event loop. Shell blocks run their ``phygitals`` and ``curl`` lines with ``bash``. The
sandbox's address stands for ``127.0.0.1:8787`` (in Python blocks too), ``phygitals
sandbox`` gets a free port and ``--timeout 1``, and output redirected into a shell's config
goes nowhere.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.docs_snippets import ROOT, Block, blocks, pages, shell_commands

from phygitals_async import AsyncPhygitals
from phygitals_async.testing import LocalSandbox, sandbox_in_thread

PAGES = [page for page in pages() if any(_b.marker is None for _b in blocks(page))]
KEY = "sandbox-docs"


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSandbox]:
    with sandbox_in_thread(seed=7, admin=True) as running:
        running.seed_items("u1", 4)
        monkeypatch.setenv("PHYGITALS_BASE_URL", running.url)
        monkeypatch.setenv("PHYGITALS_API_KEY", KEY)
        monkeypatch.delenv("PHYGITALS_LOG", raising=False)
        monkeypatch.chdir(tmp_path)
        yield running


def _run_python(block: Block, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
    code = compile(
        block.code.replace("http://127.0.0.1:8787", namespace["__sandbox_root__"]),
        block.where,
        "exec",
        flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
        dont_inherit=True,
    )
    # The documentation's own code, run to prove it right; nothing else reaches eval.
    result = eval(code, namespace)  # noqa: S307
    if inspect.iscoroutine(result):
        loop.run_until_complete(result)


def _run_shell(block: Block, sandbox: LocalSandbox) -> None:
    commands = [
        command.replace("http://127.0.0.1:8787", sandbox.root_url)
        for command in shell_commands(block.code)
    ]
    if any(command.startswith("curl") for command in commands) and not shutil.which("curl"):
        pytest.skip("curl is not installed")
    for command in commands:
        line = re.sub(r"\s>\s.*$", "", command)  # completion scripts: printed, not installed
        if line.startswith("phygitals sandbox"):
            line += " --port 0 --timeout 1"
        script = f"set -euo pipefail\n{_assignments(commands)}\n{line}\n"
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        done = subprocess.run(  # noqa: S603
            ["bash", "-c", script],  # noqa: S607
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"{block.where}: {line}\n{done.stdout}\n{done.stderr}"


def _assignments(commands: list[str]) -> str:
    return "\n".join(c for c in commands if re.match(r"[A-Z_]+=", c))


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_block_of_the_page_runs(page: Path, sandbox: LocalSandbox) -> None:
    """Each unmarked Python and shell block of the page runs, in order, without an error."""
    loop = asyncio.new_event_loop()
    client = loop.run_until_complete(_open(AsyncPhygitals()))
    namespace: dict[str, Any] = {"__name__": "docs_page", "__sandbox_root__": sandbox.root_url}
    try:
        for block in blocks(page):
            if block.marker is not None or block.is_include:
                continue
            namespace["client"] = client
            try:
                if block.lang == "python":
                    _run_python(block, namespace, loop)
                elif block.lang in {"bash", "sh"}:
                    _run_shell(block, sandbox)
            except Exception as exc:
                raise AssertionError(f"{block.where} failed: {exc!r}") from exc
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _open(client: AsyncPhygitals) -> AsyncPhygitals:
    return await client.__aenter__()


def test_illustrative_blocks_are_few_and_say_why() -> None:
    """Blocks that are only shown, never run, give a reason and stay a small minority."""
    every = [block for page in pages() for block in blocks(page) if block.lang]
    shown = [block for block in every if block.marker == "illustrative"]
    assert all(block.note for block in shown)
    assert len(shown) * 5 <= len(every), [block.where for block in shown]


def test_tested_markers_are_the_ones_their_tests_read() -> None:
    """A ``tested:`` block is one that a test looks up by that marker."""
    known = {"third-party pytest example", "aioresponses recipe"}
    for page in pages():
        for block in blocks(page):
            if block.marker == "tested":
                assert block.note in known, block.where
