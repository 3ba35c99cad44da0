"""Command: impact (and the text of `lineage --rows`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from branchml import api
from branchml.cli import complete
from branchml.cli.app import JsonOpt, app, emit_json, out

SHOWN = 50  # uploads listed in text; --json lists all


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
    as_json: JsonOpt = False,
) -> None:
    """Which releases, branches and splits hold the rows of an upload or a file; exit 1
    when a release holds any."""
    r = api.impact(from_commit, rows, ".", raw)
    if as_json:
        emit_json(r)
    else:
        _impact_text(r)
    if r.get("held"):
        raise typer.Exit(1)


def _impact_text(r: api.ImpactReport) -> None:
    what = f"{r['from'][:10]} on {r.get('raw')}" if "from" in r else r.get("file", "")
    out(f"{r.get('rows', 0)} rows withdrawn ({what}).")
    for x in r.get("releases", []):
        out(f"  release {x.get('tag')}: {x.get('rows')} rows")
    for x in r.get("branches", []):
        out(f"  branch {x.get('branch')}: {x.get('rows')} rows")
    for x in r.get("splits", []):
        out(f"  split {x.get('split')} on {x.get('branch')}: {x.get('rows')} rows")
    if r.get("held"):
        out("A release holds these rows: remove them downstream, retrain and release "
            "(docs/lineage.md).")
    else:
        out("No release holds these rows.")


def rows_text(rows: dict[str, Any] | None) -> None:
    """The `rows` part of `lineage --rows`, one line per upload."""
    if not rows:
        return
    out(f"  rows: {rows['total']} trained on (from its {rows['source']}), {rows['matched']} "
        f"from {len(rows['uploads'])} uploads on {rows['raw']}:")
    for u in rows["uploads"][:SHOWN]:
        out(f"    {u['commit'][:10]} {u['date'][:10]} {u['author']} {u['file']}: {u['rows']} "
            f"of its {u['upload_rows']} rows")
    if len(rows["uploads"]) > SHOWN:
        out(f"    ... and {len(rows['uploads']) - SHOWN} more (--json lists all)")
    out(f"    {rows['unmatched']} rows no raw upload holds (made or rewritten by cleaning)")
    if rows["duplicates"]:
        out(f"    {rows['duplicates']} of them hold bytes more than one upload added "
            "(counted for the earliest)")
    if rows["not_rows"]:
        out(f"    not read as rows (no row format): {', '.join(rows['not_rows'])}")
