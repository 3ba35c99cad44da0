"""The library surface for `branchml graph` (re-exported by `branchml.api`). Never prints."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from branchml.core.graph import EdgeDict, GraphDict, NodeDict

__all__ = ["EdgeDict", "GraphDict", "GraphResult", "NodeDict", "graph"]


class GraphResult(TypedDict):
    """The graph (`nodes`, `edges`, `cut`: what the bounds left out), the format it was
    rendered in, its text (empty for an image), and the file written (None without one)."""

    nodes: list[NodeDict]
    edges: list[EdgeDict]
    cut: list[str]
    format: str
    text: str
    written: str | None
    dry_run: bool


def graph(path: str | Path = ".", fmt: str | None = None, output: str | Path | None = None,
          releases: int = 5, dry_run: bool = False) -> GraphResult:
    """Branches by type, promotions, pulls, tracking copies, release tags and deployments,
    from trailers and manifests (an unproven claim is an edge marked unverified).

    `fmt`: "mermaid", "dot" or "text" (default: `output`'s extension, else "text").
    `output`: a file (relative to `path`) written whole: .mmd, .dot, .txt, or .svg/.png drawn
    by Graphviz (StateError when `dot` is not installed). `releases`: the newest releases
    drawn per client. `dry_run`: nothing is written."""
    from branchml.core.graphrender import FORMATS, render
    from branchml.errors import UsageError
    from branchml.ops import graph as op
    from branchml.ops import graphfile

    repo = Path(path)
    target = graphfile.target(repo, Path(output)) if output is not None else None
    if target is None and fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format {fmt} is not one of {', '.join(FORMATS)}.")
    kind = graphfile.file_format(target, fmt) if target is not None else (fmt or "text")
    drawn = op.graph(repo, releases)
    text = render(drawn, "dot" if kind in ("svg", "png") else kind)
    data = graphfile.draw(text, kind) if kind in ("svg", "png") and not dry_run else b""
    if kind in ("svg", "png"):
        if dry_run:
            graphfile.require_dot()
        text = ""
    if target is not None and not dry_run:
        graphfile.write(target, data or text.encode())
    d = drawn.to_dict()
    return {"nodes": d["nodes"], "edges": d["edges"], "cut": d["cut"], "format": kind,
            "text": text, "written": str(target) if target is not None else None,
            "dry_run": dry_run}
