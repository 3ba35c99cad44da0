"""The hot commands without typer: typer imports pydantic (~0.25 s, ~15 MiB), which reading
tags, tagging and merging data do not need. Plain invocations are parsed here with argparse;
anything else (--help, a typo) falls through to the typer CLI, which answers it. Output comes
from the same render functions the typer commands use; a test asserts both print the same."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NamedTuple, NoReturn

from branchml import api
from branchml.cli import render
from branchml.content import rowworker


class _Parser(argparse.ArgumentParser):
    """Says nothing on a bad invocation: typer, which the caller falls through to, answers
    it in one sentence (argparse prints its usage even with exit_on_error=False)."""

    def error(self, message: str) -> NoReturn:
        raise argparse.ArgumentError(None, message)


def _parser(name: str) -> argparse.ArgumentParser:
    return _Parser(prog=f"branchml {name}", add_help=False, exit_on_error=False)


def _flag(p: argparse.ArgumentParser, *names: str, dest: str) -> None:
    p.add_argument(*names, dest=dest, action="store_true")


def _releases_parser() -> argparse.ArgumentParser:
    p = _parser("releases")
    p.add_argument("--client")
    _flag(p, "--json", dest="as_json")
    return p


def _releases(ns: argparse.Namespace) -> None:
    render.releases_out(api.releases(".", ns.client), ns.as_json)


def _show_parser() -> argparse.ArgumentParser:
    p = _parser("show")
    p.add_argument("tag")
    _flag(p, "--json", dest="as_json")
    return p


def _show(ns: argparse.Namespace) -> None:
    render.show_out(api.show(ns.tag, "."), ns.as_json)


def _tag_parser() -> argparse.ArgumentParser:
    p = _parser("tag")
    p.add_argument("--client", required=True)
    p.add_argument("--rev")
    p.add_argument("-m", "--message", default="")
    _flag(p, "--push", dest="push")
    _flag(p, "--allow-same", dest="allow_same")
    _flag(p, "--next", dest="next_name")
    _flag(p, "--dry-run", dest="dry_run")
    _flag(p, "--json", dest="as_json")
    return p


def _tag(ns: argparse.Namespace) -> None:
    if ns.next_name:
        return render.next_out(api.next_release(ns.client, "."), ns.as_json)
    m = api.tag(ns.client, ns.rev, ".", ns.message, ns.push, ns.allow_same, ns.dry_run)
    render.tag_out(m, ns.push, ns.as_json, ns.dry_run)


def _deployed_parser() -> argparse.ArgumentParser:
    p = _parser("deployed")
    p.add_argument("--client", required=True)
    p.add_argument("--at")
    _flag(p, "--json", dest="as_json")
    return p


def _deployed(ns: argparse.Namespace) -> None:
    render.deployed_out(api.deployed(ns.client, ns.at, "."), ns.as_json)


def _pull_parser() -> argparse.ArgumentParser:
    p = _parser("pull")
    p.add_argument("src")
    p.add_argument("dst")
    _flag(p, "--validate", dest="validate")
    _flag(p, "--dry-run", dest="dry_run")
    _flag(p, "--json", dest="as_json")
    return p


def _pull(ns: argparse.Namespace) -> None:
    render.merge_out(api.pull(ns.src, ns.dst, ".", validate=ns.validate, dry_run=ns.dry_run),
                     ns.as_json)


def _merge_parser() -> argparse.ArgumentParser:
    p = _parser("merge")
    p.add_argument("src")
    p.add_argument("--into")
    _flag(p, "--dry-run", dest="dry_run")
    _flag(p, "--json", dest="as_json")
    return p


def _merge(ns: argparse.Namespace) -> None:
    render.merge_out(api.merge(ns.src, ns.into, ".", dry_run=ns.dry_run), ns.as_json)


class Command(NamedTuple):
    """A hot command: its parser (each dest is the typer parameter's name, so a test can
    hold the two parsers to one meaning) and what it runs."""

    parser: Callable[[], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], None]


COMMANDS: dict[str, Command] = {
    "releases": Command(_releases_parser, _releases), "show": Command(_show_parser, _show),
    "tag": Command(_tag_parser, _tag), "deployed": Command(_deployed_parser, _deployed),
    "pull": Command(_pull_parser, _pull), "merge": Command(_merge_parser, _merge),
}


def run(args: list[str]) -> int | None:
    """The exit code, or None when typer should handle this invocation."""
    if not args or args[0] not in COMMANDS or {"-h", "--help"} & set(args):
        return None
    if args[0] in ("pull", "merge"):  # NumPy imports there while this process starts up
        rowworker.start()
    try:
        command = COMMANDS[args[0]]
        command.run(command.parser().parse_args(args[1:]))
        return 0
    except (argparse.ArgumentError, SystemExit):
        return None
    finally:
        rowworker.stop()
