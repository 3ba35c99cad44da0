"""The hot commands without typer: typer imports pydantic (~0.25 s, ~15 MiB), which reading
tags, tagging and merging data do not need. Plain invocations are parsed here with argparse;
anything else (--help, a typo) falls through to the typer CLI, which answers it. Output comes
from the same render functions the typer commands use; a test asserts both print the same."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from branchml import api, render, rowworker


def _parser(name: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=f"branchml {name}", add_help=False,
                                   exit_on_error=False)


def _releases(args: list[str]) -> int:
    p = _parser("releases")
    p.add_argument("--client")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    render.releases_out(api.releases(".", ns.client), ns.json)
    return 0


def _show(args: list[str]) -> int:
    p = _parser("show")
    p.add_argument("tag")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    render.show_out(api.show(ns.tag, "."), ns.json)
    return 0


def _tag(args: list[str]) -> int:
    p = _parser("tag")
    p.add_argument("--client", required=True)
    p.add_argument("--rev")
    p.add_argument("-m", "--message", default="")
    p.add_argument("--push", action="store_true")
    p.add_argument("--allow-same", action="store_true")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    m = api.tag(ns.client, ns.rev, ".", ns.message, ns.push, ns.allow_same, ns.dry_run)
    render.tag_out(m, ns.push, ns.json, ns.dry_run)
    return 0


def _deployed(args: list[str]) -> int:
    p = _parser("deployed")
    p.add_argument("--client", required=True)
    p.add_argument("--at")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    render.deployed_out(api.deployed(ns.client, ns.at, "."), ns.json)
    return 0


def _pull(args: list[str]) -> int:
    p = _parser("pull")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--validate", action="store_true")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    render.merge_out(api.pull(ns.src, ns.dst, ".", validate=ns.validate, dry_run=ns.dry_run),
                     ns.json)
    return 0


def _merge(args: list[str]) -> int:
    p = _parser("merge")
    p.add_argument("src")
    p.add_argument("--into")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    render.merge_out(api.merge(ns.src, ns.into, ".", dry_run=ns.dry_run), ns.json)
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "releases": _releases, "show": _show, "tag": _tag, "deployed": _deployed,
    "pull": _pull, "merge": _merge,
}


def run(args: list[str]) -> int | None:
    """The exit code, or None when typer should handle this invocation."""
    if not args or args[0] not in COMMANDS or {"-h", "--help"} & set(args):
        return None
    if args[0] in ("pull", "merge"):  # NumPy imports there while this process starts up
        rowworker.start()
    try:
        return COMMANDS[args[0]](args[1:])
    except (argparse.ArgumentError, SystemExit):
        return None
    finally:
        rowworker.stop()
