"""Shell completion scripts for bash, zsh and fish, generated from the CLI's argparse parser.

The parser is the one source of truth: every command, option, option value and choice the
scripts offer is read from it, so a new command or option completes without touching this
module. Each script finds the command path typed so far (``ship order``) by matching words
against the known command names, then offers that command's options and subcommands; after
an option that takes a value it offers the value's choices, files for ``FILE`` values, or
nothing. A positional argument whose metavar is ``FILE`` completes file names.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator

import attrs

__all__ = ["SHELLS", "completion_script"]

SHELLS = ("bash", "fish", "zsh")


@attrs.frozen
class _Option:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...]
    files: bool


@attrs.frozen
class _Command:
    path: tuple[str, ...]
    commands: tuple[tuple[str, str], ...]  # (name, one-line help) of its subcommands
    options: tuple[_Option, ...]
    values: tuple[str, ...]  # choices of its positional arguments
    files: bool  # a positional argument is a FILE


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[_Command]:
    # argparse keeps its actions in private attributes; it has no public way to list them.
    actions = parser._actions  # noqa: SLF001
    commands: list[tuple[str, str]] = []
    children: list[tuple[str, argparse.ArgumentParser]] = []
    options: list[_Option] = []
    values: list[str] = []
    files = False
    for action in actions:
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001  see above
            helps = {a.dest: a.help or "" for a in action._choices_actions}  # noqa: SLF001
            for name, child in action.choices.items():
                commands.append((name, helps.get(name, "")))
                children.append((name, child))
        elif action.option_strings:
            options.append(
                _Option(
                    flags=tuple(f for f in action.option_strings if f.startswith("--")),
                    help=_one_line(action.help),
                    takes_value=action.nargs != 0,
                    choices=tuple(str(c) for c in action.choices or ()),
                    files=action.metavar == "FILE",
                )
            )
        elif action.choices:
            values.extend(str(c) for c in action.choices)
        elif action.metavar == "FILE":
            files = True
    yield _Command(path, tuple(commands), tuple(options), tuple(values), files)
    for name, child in children:
        yield from _walk(child, (*path, name))


def _one_line(text: str | None) -> str:
    if not text or text == argparse.SUPPRESS:
        return ""
    return " ".join(text.replace("%%", "%").split())


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell`` (one of :data:`SHELLS`), for ``parser.prog``."""
    tree = list(_walk(parser))
    render = {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell]
    return render(parser.prog, tree)


def _quote(text: str) -> str:
    """Single-quoted for bash and zsh, where nothing inside single quotes is special."""
    return "'" + text.replace("'", "'\\''") + "'"


def _fish_quote(text: str) -> str:
    """Single-quoted for fish, where a backslash escapes a quote or a backslash."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _path_cases(tree: list[_Command]) -> str:
    """``case`` patterns matching every command path (``" ship order"``), for sh-like shells."""
    return "|".join(_quote(" " + " ".join(c.path)) for c in tree if c.path)


def _key(command: _Command) -> str:
    return " " + " ".join(command.path) if command.path else ""


def _value_cases(tree: list[_Command], action: Callable[[_Option], str]) -> list[str]:
    """``case`` branches for ``"$path:$prev"`` after an option that takes a value.

    Branches with the same action are merged, so ``--api-key`` is one pattern list, not one
    branch per command.
    """
    patterns: dict[str, list[str]] = {}
    for command in tree:
        for option in command.options:
            if option.takes_value:
                for flag in option.flags:
                    patterns.setdefault(action(option), []).append(
                        _quote(f"{_key(command)}:{flag}")
                    )
    return [f"        {'|'.join(p)}) {a}; return ;;" for a, p in patterns.items()]


def _bash(prog: str, tree: list[_Command]) -> str:
    func = "_" + prog.replace("-", "_")
    words_cases: list[str] = []
    for command in tree:
        words = [name for name, _ in command.commands] + list(command.values)
        words += [flag for option in command.options for flag in option.flags]
        files = "; files=1" if command.files else ""
        words_cases.append(
            f"        {_quote(_key(command))}) words={_quote(' '.join(words))}{files} ;;"
        )

    def value(option: _Option) -> str:
        if option.choices:
            return f'COMPREPLY=($(compgen -W {_quote(" ".join(option.choices))} -- "$cur"))'
        if option.files:
            return 'COMPREPLY=($(compgen -f -- "$cur"))'
        return "COMPREPLY=()"

    value_cases = _value_cases(tree, value)
    return "\n".join(
        [
            f"# bash completion for {prog}; generated by `{prog} completion bash`.",
            f"# Save it as ~/.local/share/bash-completion/completions/{prog}, or source it.",
            f"{func}() {{",
            '    local cur prev path w i words files=""',
            '    cur="${COMP_WORDS[COMP_CWORD]}"',
            '    prev="${COMP_WORDS[COMP_CWORD-1]}"',
            '    path=""',
            "    for ((i = 1; i < COMP_CWORD; i++)); do",
            '        w="${COMP_WORDS[i]}"',
            '        case "$path $w" in',
            f'            {_path_cases(tree)}) path="$path $w" ;;',
            "        esac",
            "    done",
            '    case "$path:$prev" in',
            *value_cases,
            "    esac",
            '    case "$path" in',
            *words_cases,
            '        *) words="" ;;',
            "    esac",
            '    COMPREPLY=($(compgen -W "$words" -- "$cur"))',
            '    if [ -n "$files" ] && [[ "$cur" != -* ]]; then',
            '        COMPREPLY+=($(compgen -f -- "$cur"))',
            "    fi",
            "}",
            f"complete -F {func} {prog}",
            "",
        ]
    )


def _zsh(prog: str, tree: list[_Command]) -> str:
    func = "_" + prog.replace("-", "_")
    words_cases: list[str] = []
    for command in tree:
        described = [f"{name}:{text}" for name, text in command.commands]
        options = [f"{flag}:{o.help}" for o in command.options for flag in o.flags]
        body = []
        if described:
            body.append(f"commands_=({' '.join(_quote(d) for d in described)})")
            body.append("_describe -t commands 'command' commands_")
        if command.values:
            body.append(f"compadd -- {' '.join(_quote(v) for v in command.values)}")
        if command.files:
            body.append("_files")
        if options:
            body.append(f"options_=({' '.join(_quote(o) for o in options)})")
            body.append("_describe -t options 'option' options_")
        words_cases.append(f"        {_quote(_key(command))}) {'; '.join(body) or ':'} ;;")

    def value(option: _Option) -> str:
        if option.choices:
            return f"compadd -- {' '.join(_quote(c) for c in option.choices)}"
        if option.files:
            return "_files"
        return f"_message {_quote(option.help or 'a value')}"

    value_cases = _value_cases(tree, value)
    return "\n".join(
        [
            f"#compdef {prog}",
            f"# zsh completion for {prog}; generated by `{prog} completion zsh`.",
            f'# Save it as _{prog} in a directory on $fpath, or: eval "$({prog} completion zsh)"',
            f"{func}() {{",
            "    local path_ w i",
            "    local -a commands_ options_",
            '    path_=""',
            "    for ((i = 2; i < CURRENT; i++)); do",
            '        w="${words[i]}"',
            '        case "$path_ $w" in',
            f'            {_path_cases(tree)}) path_="$path_ $w" ;;',
            "        esac",
            "    done",
            '    case "$path_:${words[CURRENT-1]}" in',
            *value_cases,
            "    esac",
            '    case "$path_" in',
            *words_cases,
            "    esac",
            "}",
            "# Autoloaded from $fpath, this file is the function's body: complete now.",
            "# Sourced or eval'd, it only registers the function.",
            f'if [ "$funcstack[1]" = "{func}" ]; then',
            f'    {func} "$@"',
            "else",
            f"    compdef {func} {prog}",
            "fi",
            "",
        ]
    )


def _fish(prog: str, tree: list[_Command]) -> str:
    func = "__" + prog.replace("-", "_") + "_path"
    names = " ".join(_fish_quote(" " + " ".join(c.path)) for c in tree if c.path)
    lines = [
        f"# fish completion for {prog}; generated by `{prog} completion fish`.",
        f"# Save it as ~/.config/fish/completions/{prog}.fish, or source it.",
        f"function {func}",
        "    # The command path typed so far, e.g. 'phygitals ship order'.",
        '    set -l path ""',
        "    for w in (commandline -opc)[2..-1]",
        f'        if contains -- "$path $w" {names}',
        '            set path "$path $w"',
        "        end",
        "    end",
        f'    echo "{prog}$path"',
        "end",
        f"complete -c {prog} -f",
    ]
    for command in tree:
        when = f"-n {_fish_quote(f'test ({func}) = {_fish_quote(prog + _key(command))}')}"
        for name, text in command.commands:
            lines.append(f"complete -c {prog} {when} -a {_fish_quote(name)} -d {_fish_quote(text)}")
        if command.values:
            values = _fish_quote(" ".join(command.values))
            lines.append(f"complete -c {prog} {when} -a {values}")
        if command.files:
            lines.append(f"complete -c {prog} {when} -F")
        for option in command.options:
            parts = [f"complete -c {prog} {when}"]
            parts += [f"-l {flag[2:]}" for flag in option.flags]
            if option.takes_value:
                if option.choices:
                    parts.append(f"-x -a {_fish_quote(' '.join(option.choices))}")
                elif option.files:
                    parts.append("-r -F")
                else:
                    parts.append("-x")
            parts.append(f"-d {_fish_quote(option.help)}")
            lines.append(" ".join(parts))
    lines.append("")
    return "\n".join(lines)
