"""The typer app, its sub-apps, the shared options and output helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from branchml import __version__
from branchml.cli import complete
from branchml.core import strictjson
from branchml.errors import UsageError


def _flags_show_no_type() -> None:
    """A flag takes no value, so --help shows none: typer's rich help prints `<bool>` beside
    every flag (`--staged  <bool>`), which reads as if it wanted one. Value options keep
    their type or metavar. One place for every command; a typer without this hook (before
    0.17) printed no type for flags anyway."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_branchml", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    display_type_rich._branchml = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_type()


def _arguments_in_capitals() -> None:
    """Arguments read as the docs write them: `branchml show TAG`, `[DIR]`. Recent typer
    prints a required argument as `{tag}` in the usage line and `tag` in the table, which
    reads like a format string left unfilled. One place for every command."""
    from typer.core import TyperArgument

    usage = getattr(TyperArgument, "_usage_display_name", None)
    if usage is None or getattr(usage, "_branchml", False):
        return

    def raw(self: TyperArgument) -> str:
        return self.metavar if self.metavar is not None else (self.name or "").upper()

    def usage_name(self: TyperArgument) -> str:
        name = raw(self) if self.required else f"[{raw(self)}]"
        return name + ("..." if self.nargs != 1 else "")

    def table_name(self: TyperArgument) -> str:
        return raw(self) + ("..." if self.metavar is None and self.nargs != 1 else "")

    usage_name._branchml = True  # type: ignore[attr-defined]
    TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]
    TyperArgument._rich_display_name = table_name  # type: ignore[method-assign]


_arguments_in_capitals()

app = typer.Typer(
    name="branchml",
    help="A Git repository as the whole home of an ML project: typed branches, policed moves.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion, --show-completion (README: Shell completion)
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(help="Validate, show and describe branchml.yaml.", no_args_is_help=True)
branch_app = typer.Typer(help="Create branches that match a branch type.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(branch_app, name="branch")
runs_app = typer.Typer(help="The run log on main: list, compare, plot.",
                       invoke_without_command=True)
app.add_typer(runs_app, name="runs")
monitor_app = typer.Typer(help="Production data on the monitoring branch, and drift checks.",
                          no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")
analysis_app = typer.Typer(help="Analysis branches ds/CLIENT.", no_args_is_help=True)
app.add_typer(analysis_app, name="analysis")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan; write nothing.")]


def out(text: str) -> None:
    sys.stdout.write(text + "\n")


def emit_json(data: Any) -> None:
    """Strict JSON (RFC 8259): a NaN or an infinity is null, never the bare NaN/Infinity
    Python writes by default, which most parsers refuse (atk19-11)."""
    out(strictjson.dumps(data, indent=2))



def _version(value: bool) -> None:
    if value:
        out(f"branchml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    directory: Annotated[Path | None, typer.Option(
        "-C", help="Run as if branchml was started in this folder (like git -C).")] = None,
    version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    if directory is not None:
        if not directory.is_dir():
            raise UsageError(f"-C {directory}: no such folder.")
        os.chdir(directory)



ClientOpt = Annotated[str, typer.Option("--client", help="Client id: lowercase letters, "
                                       "digits, _ and -.", autocompletion=complete.clients)]
