"""The library surface for row lineage (issue 21): the rows a release trained on per raw
upload (`lineage --rows`), and what holds the rows of an upload or a file (`impact`).
Re-exported by `branchml.api`. Never prints."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict, cast

from branchml.results import Lineage

__all__ = ["ImpactReport", "LineageRows", "RowLineage", "UploadRows", "impact",
           "row_lineage"]


class UploadRows(TypedDict):
    """One raw upload (a commit that added or grew one data file) and its rows."""

    commit: str
    author: str
    email: str
    date: str  # ISO 8601, the author date
    file: str
    rows: int  # of the training rows, those this upload added first
    upload_rows: int  # rows the upload added


class RowLineage(TypedDict):
    total: int  # training rows read
    matched: int
    unmatched: int  # rows no raw upload holds (made or rewritten by cleaning)
    duplicates: int  # matched rows whose bytes more than one upload added
    source: str  # "splits" | "data folders"
    uploads: list[UploadRows]  # those contributing a row, in history order
    not_rows: list[str]  # training files of no row format (not read)
    raw: str
    raw_commit: str


class LineageRows(Lineage):
    rows: RowLineage


class ImpactHolder(TypedDict, total=False):
    tag: str
    branch: str
    split: str
    commit: str
    rows: int


# functional form: `from` (the upload's commit) is a keyword. --from also gives the raw
# branch and the upload's files; --rows the file read.
ImpactReport = TypedDict("ImpactReport", {
    "rows": int,  # rows withdrawn (with repeats)
    "held": bool,  # a release holds some: `impact` exits 1
    "releases": list[ImpactHolder], "branches": list[ImpactHolder],
    "splits": list[ImpactHolder],
    "from": str, "raw": str, "files": list[str], "file": str,
}, total=False)


def row_lineage(file: str, rev: str | None = None, path: str | Path = ".",
                raw: str | None = None) -> LineageRows:
    """`lineage` of model `file` at `rev` (a release tag or commit; default HEAD) with
    `rows`: how many of the rows it trained on came from each upload on the raw branch
    (`raw`: another data branch)."""
    from branchml.ops import modellineage as op

    return cast(LineageRows, op.lineage(Path(path), file, rev, rows=True, raw=raw))


def impact(from_commit: str | None = None, rows_file: str | Path | None = None,
           path: str | Path = ".", raw: str | None = None) -> ImpactReport:
    """Every release, branch and split holding the rows an upload on raw added
    (`from_commit`) or the rows of a file (`rows_file`); `held`: a release holds some."""
    from branchml.ops import impact as op

    found = op.impact(Path(path), from_commit, Path(rows_file) if rows_file else None, raw)
    return cast(ImpactReport, found)
