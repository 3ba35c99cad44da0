"""Command: undo (issue 20)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from branchml import api
from branchml.cli.app import DryRunOpt, JsonOpt, app, emit_json, out
from branchml.errors import UsageError


@app.command()
def undo(
    revert: Annotated[bool, typer.Option(
        "--revert", help="For a write that is pushed already: take it back with new commits "
        "(a revert commit, a deploy record forward), never rewriting the remote.")] = False,
    list_: Annotated[bool, typer.Option(
        "--list", help="Print the operation log, newest first, and what can be undone now.")]
    = False,
    limit: Annotated[int | None, typer.Option(
        "-n", help="With --list: the newest N writes (0: all; 20 when not given).",
        metavar="N")] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Take back the newest branchml write of this repository: its refs, tags, config,
    hooks and checked-out files, as they were before it.

    A second undo takes back the write before that one (a stack; an undo is never undone).
    It refuses, changing nothing (exit 1), when something the write moved has moved since,
    when the files it would rewrite hold uncommitted changes, when the write was killed
    midway, and when it is pushed already: then `--revert` makes new commits instead.
    See docs/undo.md."""
    if limit is not None and limit < 0:
        raise UsageError(f"-n {limit}: give a count of 0 or more (0: all).")
    if list_:
        if revert or dry_run:
            raise UsageError("--list only reads the log: give it without --revert or --dry-run.")
        return _list(api.undo_list(".", 20 if limit is None else limit), as_json)
    if limit is not None:
        raise UsageError("-n only counts the writes --list prints: give it with --list.")
    r = api.undo(".", dry_run, revert)
    if as_json:
        return emit_json(r)
    if r["op"] is None:
        return out("Nothing to undo: the operation log holds no branchml write to take back.")
    verb = "Would take back" if dry_run else "Took back"
    if not r["restored"]:
        verb = "Could take back nothing of" if dry_run else "Took back nothing of"
    out(f"{verb} `branchml {r['command']}` ({r['op']})" + (":" if r["restored"] else "."))
    for step in r["restored"]:
        out(f"  {step}")
    for words in r["said"]:
        out(f"{'Then' if dry_run else 'Now'} {words}.")
    for kept in r["kept"]:
        out(f"Kept: {kept}.")


def _list(rows: list[Any], as_json: bool) -> None:
    if as_json:
        return emit_json(rows)
    if not rows:
        return out("The operation log is empty: no branchml write to undo.")
    out("(undo takes back the newest write first, one at a time; newest first below)")
    for r in rows:
        can = "; can be undone now" if r["undoable"] else (
            f"; not undoable: {r['why_not']}" if r["why_not"] else "")
        out(f"{r['op']}  {r['time']}  branchml {r['command']}  [{r['state']}{can}]")
        for move in r["moves"]:
            out(f"    {move}")
