"""The typer CLI: options -> api -> render (text, or --json). No logic lives here.

The app is in `app.py`; each area module registers its commands on it when imported here."""

from __future__ import annotations

import inspect
from importlib import import_module
from typing import Any

from branchml.cli.app import app
from branchml.errors import UsageError

# Each area registers its commands on `app`; --help lists them in this (workflow) order.
for _area in ("foundation", "data", "releases", "tracking", "remote", "graph"):
    import_module(f"branchml.cli.{_area}")
import_module("branchml.cli.reproduce")  # issue 21: train, reproduce
import_module("branchml.cli.undo")  # issue 20: undo

__all__ = ["app", "run"]


def _reflow(text: str) -> str:
    """A docstring as --help shows it: typer's rich help keeps a docstring's line breaks, so
    a sentence wrapped in the source broke mid-line in `branchml --help`. Lines of a
    paragraph are joined; blank lines and list items (`- `) still start a new line."""
    paragraphs = []
    for para in inspect.cleandoc(text).split("\n\n"):
        lines: list[str] = []
        for line in para.splitlines():
            if lines and not line.lstrip().startswith("- "):
                lines[-1] += " " + line.strip()
            else:
                lines.append(line.strip())
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def _tidy_help(typer_app: Any) -> None:
    """Every command's and group's help, reflowed once at import (no cost per run)."""
    for info in typer_app.registered_commands:
        doc = info.help or (info.callback.__doc__ if info.callback else None)
        if doc:
            info.help = _reflow(doc)
    for group in typer_app.registered_groups:
        sub = group.typer_instance
        callback = sub.registered_callback
        doc = group.help or (callback.callback.__doc__ if callback and callback.callback
                             else None) or sub.info.help
        if isinstance(doc, str):
            group.help = _reflow(doc)
        _tidy_help(sub)


_tidy_help(app)


def run(args: list[str]) -> int:
    """Run the typer app; a usage error (an unknown option, a missing argument) is one
    sentence through the one error handler (exit 2), not click's usage block."""
    import typer

    exc = _click_exceptions()
    try:
        code = app(args=args, prog_name="branchml", standalone_mode=False)
    except exc.UsageError as e:
        if not e.format_message():  # `branchml` alone: the help, as click would show it
            e.show()
            return int(e.exit_code)
        where = e.ctx.command_path if e.ctx is not None else "branchml"
        raise UsageError(f"{e.format_message().rstrip('.')}; see `{where} --help`.") from None
    except exc.ClickException as e:
        raise UsageError(e.format_message()) from None
    except typer.Abort:
        raise KeyboardInterrupt from None
    except SystemExit as e:  # rich leaves this way when its reader closed the pipe
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    return code if isinstance(code, int) else 0


def _click_exceptions() -> Any:
    """click's exceptions as typer raises them (recent typer ships its own copy of click)."""
    try:
        import typer._click.exceptions as vendored

        return vendored
    except ImportError:  # a typer that uses the click package
        import click.exceptions

        return click.exceptions
