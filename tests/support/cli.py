"""The command tree as the CLI tests walk it: every command's smallest arguments."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

# The smallest valid arguments of every command; a new command must be added here, which
# puts it under every test of this module.
MINIMAL_ARGS: dict[tuple[str, ...], list[str]] = {
    ("packs",): [],
    ("pulls",): [],
    ("buy",): ["PACK", "--user", "u1", "--amount", "1"],
    ("status",): ["SESSION"],
    ("inventory",): ["u1"],
    ("card",): ["ITEM"],
    ("sellback",): ["ITEM"],
    ("journal", "show"): ["run.db"],
    ("ship", "quote"): [
        "ITEM",
        "--name",
        "J",
        "--line1",
        "1 Main",
        "--city",
        "A",
        "--country",
        "US",
    ],
    ("ship", "request"): ["RATE"],
    ("ship", "order"): ["ORDER"],
    ("sandbox",): [],
    ("demo",): [],
    ("completion",): ["bash"],
}


def parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser in the command tree with its command path, the top level first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from parsers(child, (*path, name))
