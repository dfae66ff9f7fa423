"""``phygitals completion SHELL``: scripts generated from the parser, run in the real shells."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest
from support.cli import parsers

from phygitals_async.cli import _main as cli
from phygitals_async.cli._completion import SHELLS, completion_script

BOUND = 30


def script(shell: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(["completion", shell]) == 0
    return capsys.readouterr().out


def shell_run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=BOUND, check=True)  # noqa: S603  fixed arguments
    return done.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_script_names_every_command_and_option(
    shell: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each script offers every command path and every long option the parser knows."""
    text = script(shell, capsys)
    for path, parser in parsers(cli._parser()):
        if path:
            assert f" {' '.join(path)}'" in text, path
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--"):
                    expected = f"-l {flag[2:]}" if shell == "fish" else flag
                    assert expected in text, (path, flag)
            if action.choices and not isinstance(action, argparse._SubParsersAction):
                assert all(str(choice) in text for choice in action.choices), (path, action)


BASH_CASES = [
    ("phygitals sh", {"ship"}),
    ("phygitals ship o", {"order"}),
    ("phygitals --json ship order o1 --wait-until s", {"shipped"}),
    ("phygitals packs --pl", {"--platform"}),
    ("phygitals inventory u1 --js", {"--json"}),
    ("phygitals completion ", {"bash", "zsh", "fish"}),
    ("phygitals buy --user ", set()),
]


@pytest.mark.parametrize(("line", "expected"), BASH_CASES)
def test_bash_completes(
    line: str, expected: set[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Sourced into bash, the function completes commands, actions, options and choices."""
    source = tmp_path / "phygitals.bash"
    source.write_text(script("bash", capsys))
    words = line.split(" ")
    program = (
        f"source {source}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        '_phygitals; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    offered = set(shell_run(["bash", "-c", program]).split())
    assert expected <= offered
    if not expected:
        assert offered == set()


def test_bash_completes_journal_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """After --journal (a FILE) bash offers file names."""
    source = tmp_path / "phygitals.bash"
    source.write_text(script("bash", capsys))
    (tmp_path / "run.db").write_text("")
    program = (
        f"cd {tmp_path}; source {source}\n"
        "COMP_WORDS=(phygitals sellback --journal ru); COMP_CWORD=3\n"
        '_phygitals; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    assert shell_run(["bash", "-c", program]).split() == ["run.db"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Autoloaded from $fpath the zsh function completes at once; sourced, it registers."""
    (tmp_path / "_phygitals").write_text(script("zsh", capsys))
    # Stand-ins for the completion system's builtins print what would be offered.
    program = f"""
compdef() {{ print -r -- "compdef $*" }}
_describe() {{ print -r -- "${{(P)4[@]%%:*}}" }}
compadd() {{ shift; print -r -- "$@" }}
_files() {{ print -r -- FILES }}
_message() {{ print -r -- MESSAGE }}
fpath=({tmp_path} $fpath)
autoload -Uz _phygitals
comp() {{ words=("$@"); CURRENT=$#; _phygitals; print -- --- }}
comp phygitals sh
comp phygitals ship o
comp phygitals --json ship order o1 --wait-until s
comp phygitals sellback --journal r
comp phygitals buy --user u
source {tmp_path}/_phygitals
"""
    blocks = shell_run(["zsh", "-f", "-c", program]).split("---\n")
    assert "ship" in blocks[0].split()
    assert "--json" in blocks[0].split()
    assert "order" in blocks[1].split()
    assert "shipped" in blocks[2].split()
    assert blocks[3].split() == ["FILES"]
    assert blocks[4].split() == ["MESSAGE"]
    assert blocks[5] == "compdef _phygitals phygitals\n"


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Sourced into fish, `complete -C` offers commands, actions, options and choices."""
    source = tmp_path / "phygitals.fish"
    source.write_text(script("fish", capsys))
    program = (
        f"source {source}\n"
        "for line in 'phygitals sh' 'phygitals ship o' "
        "'phygitals --json ship order o1 --wait-until s' 'phygitals packs --pl'\n"
        "  complete -C $line; echo ---\n"
        "end\n"
    )
    blocks = [
        {line.split("\t")[0] for line in block.splitlines()}
        for block in shell_run(["fish", "--no-config", "-c", program]).split("---\n")
    ]
    assert "ship" in blocks[0]
    assert "order" in blocks[1]
    assert "shipped" in blocks[2]
    assert "--platform" in blocks[3]


def test_file_arguments_complete_file_names(tmp_path: Path) -> None:
    """A positional FILE (such as a journal) completes file names in bash, zsh and fish."""
    parser = argparse.ArgumentParser(prog="tool")
    sub = parser.add_subparsers()
    sub.add_parser("show", help="show a file").add_argument("path", metavar="FILE", help="a file")
    (tmp_path / "run.db").write_text("")
    scripts = {shell: completion_script(parser, shell) for shell in SHELLS}
    assert "_files" in scripts["zsh"]
    assert "-F" in scripts["fish"].splitlines()[-2]
    source = tmp_path / "tool.bash"
    source.write_text(scripts["bash"])
    program = (
        f"cd {tmp_path}; source {source}\n"
        "COMP_WORDS=(tool show ru); COMP_CWORD=2\n"
        '_tool; printf "%s\\n" "${COMPREPLY[@]}"\n'
        "COMP_WORDS=(tool ru); COMP_CWORD=1\n"
        '_tool; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    assert shell_run(["bash", "-c", program]).split() == ["run.db"]
