"""Command: graph (issue 20)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from branchml import api
from branchml.cli.app import DryRunOpt, JsonOpt, app, emit_json, out


@app.command()
def graph(
    fmt: Annotated[str | None, typer.Option(
        "--format", help="mermaid, dot or text (default: the -o file's extension, else text).",
        metavar="FORMAT")] = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Write to FILE: .mmd, .dot, .txt, or .svg/.png drawn by "
        "Graphviz.", metavar="FILE")] = None,
    releases: Annotated[int, typer.Option(
        "--releases", help="The newest releases drawn per client.", metavar="K")] = 5,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Draw the branches by type, promotions, pulls, tracking copies, release tags and
    deployments, from trailers and manifests; an unproven claim is drawn dashed."""
    r = api.graph(".", fmt, output, releases, dry_run)
    if as_json:
        return emit_json({k: v for k, v in r.items() if k != "text"})
    if r["written"] is None:
        return typer.echo(r["text"], nl=False)
    verb = "Would write" if dry_run else "Wrote"
    out(f"{verb} {r['written']} ({r['format']}: {len(r['nodes'])} nodes, "
        f"{len(r['edges'])} edges).")
    for cut in r["cut"]:
        out(f"Cut: {cut}.")
