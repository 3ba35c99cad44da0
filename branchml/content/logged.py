"""`monitor log` is idempotent by content: the rows of a file logged before are not logged
again (a rerun after a kill that had committed, or the same file given twice)."""

from __future__ import annotations

from branchml.content import strategies
from branchml.core.rows import RowFormat
from branchml.repo import objectstore


def logged_before(repo: objectstore.Repo, tip: str, dest: str, data: bytes,
                  fmt: RowFormat | None, store: strategies.Store) -> bool:
    """Whether these rows were logged under this file name for this release already, on any
    day: logging is idempotent by content, so a rerun after a kill (or the same file given
    twice) adds nothing. Rows count as logged when they sit, as one block of whole lines, in
    a logged file of that name (a Parquet file: when it is byte for byte that file)."""
    folder, name = dest.rsplit("/", 2)[0], dest.rsplit("/", 1)[1]
    rows = data if fmt in (RowFormat.JSONL, RowFormat.PARQUET) else data.partition(b"\n")[2]
    if not rows.strip():
        return False
    rows = rows if rows.endswith(b"\n") or fmt is RowFormat.PARQUET else rows + b"\n"
    try:
        days = repo.pg[repo.pg[tip].tree[folder].id]
    except KeyError:
        return False
    for day in days:
        try:
            entry = repo.pg[day.id][name] if day.type_str == "tree" else None
        except KeyError:
            continue
        if entry is None or entry.type_str != "blob":
            continue
        old = strategies._read(bytes(repo.pg[entry.id].data), store,
                               f"{folder}/{day.name}/{name}")
        if fmt is RowFormat.PARQUET:
            if old == data:
                return True
        elif (b"\n" + old + (b"" if old.endswith(b"\n") else b"\n")).find(b"\n" + rows) >= 0:
            return True
    return False
