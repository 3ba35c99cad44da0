"""Command: impact (and the text of `lineage --rows`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from branchml import api
from branchml.cli import complete
from branchml.cli.app import JsonOpt, app, emit_json, out

SHOWN = 50  # uploads listed in text; --json lists all
SHOWN_FILES = 10  # files not read as rows named in text; --json lists all


@app.command()
def impact(
    from_commit: Annotated[str | None, typer.Option(
        "--from", help="An upload on the raw branch: the rows that commit added.",
        autocompletion=complete.revisions)] = None,
    rows: Annotated[Path | None, typer.Option(
        "--rows", help="A file of the rows to withdraw (CSV/TSV with its header line).")]
    = None,
    raw: Annotated[str | None, typer.Option(
        help="The raw branch (default: the data branch made from main).",
        autocompletion=complete.branches)] = None,
    current: Annotated[bool, typer.Option(
        "--current", help="Judge only each client's newest and deployed releases (exit 1 "
        "when one of them holds the rows); older ones are listed as history.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Which releases, branches and splits hold the rows of an upload or a file; exit 1
    when a release holds any (with --current: a newest or deployed one)."""
    r = api.impact(from_commit, rows, ".", raw, current)
    if as_json:
        emit_json(r)
        if not r.get("found_anywhere", 1):
            _nowhere(r)  # on stderr: the JSON stays parseable, the warning still seen
    else:
        _impact_text(r)
    if r.get("held"):
        raise typer.Exit(1)


def counted(n: int, noun: str) -> str:
    """`1 row`, `2 rows`: a count read aloud."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _nowhere(r: api.ImpactReport) -> None:
    n = r.get("rows", 0)
    what = "the one row is not" if n == 1 else f"none of the {n} rows is"
    typer.secho(f"WARNING: {what} on any branch, "
                "raw included: rows are matched byte for byte; check "
                f"{r.get('file') or 'the upload'}'s header and formatting.", err=True,
                fg=typer.colors.RED, bold=True)


def _impact_text(r: api.ImpactReport) -> None:
    what = (f"added by {r['from'][:10]} on {r.get('raw')}" if "from" in r
            else f"of {r.get('file', '')}")
    distinct = r.get("distinct", r.get("rows", 0))
    again = "" if distinct == r.get("rows") else f", {distinct} distinct"
    out(f"{counted(r.get('rows', 0), 'row')} to withdraw{again}, {what}.")
    shared = r.get("shared_with_earlier")
    if shared and shared["rows"]:
        out(f"  {shared['rows']} of them an earlier upload added first "
            f"({', '.join(c[:10] for c in shared['uploads'])}): `lineage --rows` counts "
            "them for that upload, and a release may hold them through it.")
    for x in r.get("releases", []):
        out(f"  release {x.get('tag')}{_marks(x, r.get('current_only', False))} "
            f"{_release(x)}{_why(x, distinct)}")
    for x in r.get("branches", []):
        if x.get("rows"):
            out(f"  branch {x.get('branch')} holds {counted(x.get('rows', 0), 'row')} of them")
    for x in r.get("splits", []):
        out(f"  split {x.get('split')} on {x.get('branch')} holds "
            f"{counted(x.get('rows', 0), 'row')} of them")
    for left in r.get("left_behind", []):
        _left_behind(left)
    unread = r.get("not_read", [])
    if unread:
        were = "file was" if len(unread) == 1 else "files were"
        out(f"{len(unread)} {were} not read by rows ({', '.join(unread[:SHOWN_FILES])}"
            f"{', ...' if len(unread) > SHOWN_FILES else ''}): rows in them are not counted.")
    _verdict(r, bool(unread))


def _verdict(r: api.ImpactReport, unread: bool) -> None:
    """The last line: what a withdrawal script's reader needs; never an all-clear for files
    that were not read."""
    if not r.get("found_anywhere", 1):
        _nowhere(r)
    elif r.get("held"):
        who = "A newest or deployed release" if r.get("current_only") else "A release"
        out(f"{who} holds these rows: remove them downstream, retrain and release "
            "(docs/lineage.md).")
    elif any(x.get("rows") or x.get("in_data") for x in r.get("releases", [])):
        out("No newest or deployed release holds these rows; older releases do "
            "(history: they keep them).")
    elif unread:
        out("No release holds these rows in the files read.")
    else:
        out("No release holds these rows.")


def _release(x: Any) -> str:
    """What a release holds: its training selection, and its data when that says more."""
    if x.get("training") == "unreadable":
        return (f"holds {counted(x.get('in_data', 0), 'row')} of them in its data (training: "
                f"unreadable, {str(x.get('training_error', '')).rstrip('.')})")
    if not x.get("rows") and not x.get("in_data"):  # listed for files not read as rows
        return (f"holds none of them in the files read; not read by rows: "
                f"{', '.join(x.get('not_rows', []))}")
    said = f"trained on {counted(x.get('rows', 0), 'row')} of them"
    if x.get("in_data", 0) != x.get("rows", 0):
        said += f", its data holds {x.get('in_data', 0)}"
    return said


def _left_behind(x: Any) -> None:
    keys = x.get("assignment_keys")
    if keys:
        out(f"  branch {x.get('branch')}: its split assignment still lists "
            f"{counted(keys, 'key')} of these rows ({x.get('key')})")
    for p in x.get("reports", []):
        out(f"  branch {x.get('branch')}: validation report {p} quotes some of these rows")


def _marks(x: Any, current_only: bool) -> str:
    said = [m for m in ("newest", "deployed") if x.get(m)]
    if current_only and not said:
        said = ["history"]
    return f" ({', '.join(said)})" if said else ""


def _why(x: Any, distinct: int) -> str:
    """Why a count may surprise: rows that earlier uploads added too, or repeated rows."""
    said: list[str] = []
    if not x.get("rows") and not x.get("in_data"):
        return ""  # nothing counted: nothing to explain
    shared = x.get("shared_with_earlier", 0)
    if x.get("before_upload"):
        said.append("tagged before this upload, it holds them only through earlier uploads")
    elif shared:
        said.append(f"{shared} of them also added by an earlier upload")
    if x.get("rows", 0) > distinct:
        said.append(f"more than the {distinct} distinct rows withdrawn: some rows are in its "
                    "training data more than once")
    return f" ({'; '.join(said)})" if said else ""


def rows_text(rows: dict[str, Any] | None) -> None:
    """The `rows` part of `lineage --rows`, one line per upload."""
    if not rows:
        return
    out(f"  rows: trained on {counted(rows['total'], 'row')} (from its {rows['source']}), "
        f"{rows['matched']} of them from {counted(len(rows['uploads']), 'upload')} on "
        f"{rows['raw']}:")
    for u in rows["uploads"][:SHOWN]:
        out(f"    {u['commit'][:10]} {u['date'][:10]} {u['author']} {u['file']}: {u['rows']} "
            f"of the {counted(u['upload_rows'], 'row')} it added")
    if len(rows["uploads"]) > SHOWN:
        out(f"    ... and {len(rows['uploads']) - SHOWN} more (--json lists all)")
    if rows["unmatched"]:
        out(f"    {counted(rows['unmatched'], 'row')} no raw upload holds (made or rewritten "
            "by cleaning)")
    if rows["duplicates"]:
        out(f"    {rows['duplicates']} of them hold bytes more than one upload added "
            "(counted for the earliest)")
    if rows["not_rows"]:
        out(f"    not read as rows (no row format): {', '.join(rows['not_rows'])}")
    for warning in rows.get("warnings") or []:  # on stderr, as every warning
        sys.stderr.write(f"branchml: warning: {warning}\n")
