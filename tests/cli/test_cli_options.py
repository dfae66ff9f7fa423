"""The ``phygitals`` command as people type it: global options anywhere, help, --version."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from support.cli import MINIMAL_ARGS, parsers

from phygitals_async import __version__
from phygitals_async.cli import _common as common
from phygitals_async.cli import _main as cli

# Each global option as typed, with the value it must produce wherever it is placed.
GLOBALS: list[tuple[list[str], str, object]] = [
    (["--api-key", "sandbox-placed"], "api_key", "sandbox-placed"),
    (["--base-url", "http://127.0.0.1:9/_"], "base_url", "http://127.0.0.1:9/_"),
    (["--timeout", "2.5"], "timeout", 2.5),
    (["--sandbox-local"], "sandbox_local", True),
    (["--json"], "json", True),
    (["--debug"], "debug", True),
]
DEFAULTS = {"api_key": None, "base_url": None, "timeout": None, "sandbox_local": False}
DEFAULTS |= {"json": False, "debug": False}


def leaves() -> list[tuple[str, ...]]:
    """The command paths that run something (``ship order``, not ``ship``)."""
    out = []
    for path, parser in parsers(cli._parser()):
        if path and not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            out.append(path)
    return out


def test_every_command_has_minimal_arguments_here() -> None:
    """The table of commands these tests use is the parser's own list of commands."""
    assert sorted(leaves()) == sorted(MINIMAL_ARGS)


@pytest.mark.parametrize("path", sorted(MINIMAL_ARGS), ids=" ".join)
@pytest.mark.parametrize(("option", "dest", "expected"), GLOBALS, ids=str)
def test_global_option_before_or_after_the_command_means_the_same(
    path: tuple[str, ...], option: list[str], dest: str, expected: object
) -> None:
    """Each global option gives the same value before the command, after it, or in between."""
    args = MINIMAL_ARGS[path]
    placements = [
        [*option, *path, *args],
        [*path, *args, *option],
        [*path, *option, *args],
    ]
    if len(path) > 1:  # between `ship` and its action too
        placements.append([path[0], *option, *path[1:], *args])
    for argv in placements:
        namespace = cli._parser().parse_args(argv)
        assert getattr(namespace, dest) == expected, argv
        for other, default in DEFAULTS.items():
            if other != dest:
                assert getattr(namespace, other) == default, (argv, other)


def test_global_options_split_around_the_command_all_apply() -> None:
    """Some global options before the command and others after: all of them take effect."""
    namespace = cli._parser().parse_args(
        ["--json", "--timeout", "3", "inventory", "u1", "--debug", "--api-key", "sandbox-k"]
    )
    assert (namespace.json, namespace.timeout, namespace.debug) == (True, 3.0, True)
    assert namespace.api_key == "sandbox-k"
    later = cli._parser().parse_args(["--timeout", "3", "packs", "--timeout", "4"])
    assert later.timeout == 4.0


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_timeout_must_be_positive_seconds(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A --timeout that is not a positive number of seconds is a usage error, exit 2."""
    with pytest.raises(SystemExit) as caught:
        cli.main(["packs", "--timeout", value])
    assert caught.value.code == 2
    assert "expected a number of seconds > 0" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--version"], ["packs", "--version"], ["ship", "--version"]])
def test_version(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the package version and exits 0, before or after a command."""
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 0
    assert capsys.readouterr().out == f"phygitals {__version__}\n"


def test_every_option_says_what_it_does_and_its_default() -> None:
    """Walking the parser: every argument has help; every option with a default names it."""
    for path, parser in parsers(cli._parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            where = f"{' '.join(path) or 'phygitals'} {action.option_strings or action.dest}"
            assert action.help, where
            assert action.help != argparse.SUPPRESS, where
            if action.option_strings and action.nargs != 0 and not action.required:
                assert "(default: " in action.help, where
            if isinstance(action, argparse._StoreTrueAction):
                assert "(default: off)" in action.help, where
            if action.required and action.option_strings:
                assert "(required)" in action.help, where


def test_every_command_has_a_description_and_one_example() -> None:
    """Each command's help has a description and an epilog with a runnable example."""
    for path, parser in parsers(cli._parser()):
        if not path:
            continue
        assert parser.description, path
        assert parser.epilog is not None, path
        assert parser.epilog.startswith("example:\n  "), path
        assert "phygitals " + " ".join(path) in parser.epilog, path
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(choice.help for choice in action._choices_actions), path


def test_command_help_lists_global_options(capsys: pytest.CaptureFixture[str]) -> None:
    """A command's --help shows the global options it accepts, with their defaults."""
    with pytest.raises(SystemExit):
        cli.main(["ship", "order", "--help"])
    out = capsys.readouterr().out
    assert "global options (before or after the command):" in out
    assert "--timeout SECONDS" in out
    assert "(default: 60; sandbox: until Ctrl+C)" in out
    assert "--wait-until STATUS" in out
    assert "phygitals ship order order_123 --wait-until shipped" in out


def test_issue_examples_now_work(capsys: pytest.CaptureFixture[str]) -> None:
    """`phygitals packs --sandbox-local --json`, as the top-level help suggests, runs."""
    assert cli.main(["packs", "--sandbox-local", "--json"]) == 0
    assert '"Topps Chrome 2024"' in capsys.readouterr().out


def test_unknown_wait_status_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt --wait-until status is refused at once (exit 2), not waited for."""
    with pytest.raises(SystemExit) as caught:
        cli.main(["ship", "order", "o1", "--wait-until", "shiped"])
    assert caught.value.code == 2
    assert "invalid choice: 'shiped'" in capsys.readouterr().err


def test_cli_guide_matches_the_parser() -> None:
    """The CLI guide names every command, every global option and each exit code."""
    section = (Path(__file__).parents[2] / "docs" / "guides" / "cli.md").read_text()
    for path, parser in parsers(cli._parser()):
        if path:
            assert " ".join(path) in section, path
        if not path:
            for action in parser._actions:
                for flag in action.option_strings:
                    if flag.startswith("--") and flag != "--help":
                        assert flag in section, flag
    codes = [common.EXIT_OK, common.EXIT_API, common.EXIT_USAGE, common.EXIT_PARTIAL]
    codes += [common.EXIT_INTERRUPTED, common.EXIT_PIPE]
    assert codes == [0, 1, 2, 3, 130, 141]
    exit_line = section.split("Exit codes: ", 1)[1]
    for code in codes:
        assert f" {code} " in f" {exit_line}", code


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["sellback", "--user", "u1", "--all", "--expiring-within", "soon"], "a duration"),
        (["sandbox", "--pending-polls", "two"], "a whole number of polls"),
    ],
)
def test_option_values_are_checked_as_typed(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed option value is a usage error that says what was expected."""
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == common.EXIT_USAGE
    assert complaint in capsys.readouterr().err
