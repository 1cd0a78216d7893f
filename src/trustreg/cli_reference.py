"""Writes ``docs/cli.md`` from the commands themselves, so the reference never drifts.

Run ``python -m trustreg.cli_reference > docs/cli.md``; a test checks the file is current.
"""

from __future__ import annotations

from typing import Any

import typer

from trustreg.cli import app


def reference() -> str:
    """The CLI reference as Markdown, one section per command."""
    root = typer.main.get_command(app)
    lines = [
        "# Command-line reference",
        "",
        "Generated from the commands by `python -m trustreg.cli_reference`; do not edit.",
        "",
        "Exit codes: 0 success; 1 invalid input or rows rejected; 2 unreadable file or",
        "wrong usage (the usage is printed); 3 not found; 4 conflict; 5 not allowed.",
        "",
    ]
    for path, command in _walk(root, "trustreg"):
        lines += [f"## `{path}`", "", (command.help or "").strip().split("\n\n")[0], ""]
        lines += [f"    {path} {_usage(command)}".rstrip(), ""]
        for param in command.params:
            lines.append(_describe(param))
        if command.params:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# Typer ships its own copy of Click, so commands and parameters are told apart by
# their attributes rather than by Click's classes.
def _walk(command: Any, path: str) -> list[tuple[str, Any]]:
    if hasattr(command, "commands"):
        found: list[tuple[str, Any]] = []
        for name in sorted(command.commands):
            found += _walk(command.commands[name], f"{path} {name}")
        return found
    return [(path, command)]


def _usage(command: Any) -> str:
    parts = [str(p.name).upper() for p in command.params if p.param_type_name == "argument"]
    if any(p.param_type_name == "option" for p in command.params):
        parts.append("[OPTIONS]")
    return " ".join(parts)


def _describe(param: Any) -> str:
    if param.param_type_name == "argument":
        text = getattr(param, "help", None) or ""
        return f"- `{str(param.name).upper()}`{': ' + text if text else ''}"
    names = ", ".join(f"`{n}`" for n in param.opts)
    default = param.default
    shown = "" if default in (None, False) or param.is_flag else f" (default: {default})"
    return f"- {names}: {param.help or ''}{shown}".rstrip()


if __name__ == "__main__":
    print(reference(), end="")
