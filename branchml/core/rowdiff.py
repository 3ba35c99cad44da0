"""Rows added and removed between two versions of a row file (for `branchml diff`), compared
as multisets of row hashes. Pure: reads byte streams only.

A row is what `rows_of` counts (core/rowcount.py), read by the one reading of rows
(core/rows.py): records, the header of CSV/TSV and blank records left out. Each row is hashed
to 8 bytes by the append merge's keyed hash (core/rowhash.py, the values `native.py` gives),
in the same single pass that counts it; the hashes of a version are sorted, and the two sorted
arrays are compared as multisets: a row one version holds k more times than the other counts
k times. Memory: 8 bytes a row of each version (twice that while a version's hashes are
joined), up to MAX_ROWS rows a version; past that only the count goes on and the change is
the net figure. Two different rows share a 64-bit keyed hash with a chance near n²/2^65 for n
rows (about 1 in 10^6 at 6 million rows); a collision would hide one added and one removed row
alike, never change the net figure.
"""

from __future__ import annotations

from typing import Any, BinaryIO, NamedTuple

import numpy as np

from branchml.core import rowhash
from branchml.core.rows import BOM, RowFormat, record_blocks

MAX_ROWS = 1 << 24  # rows a version's hashes are kept for: 128 MiB of hashes at most


class RowSet(NamedTuple):
    """The rows of one version: how many, and their sorted hashes (None: not kept, the file
    was over MAX_ROWS rows)."""

    rows: int
    hashes: Any  # a sorted int64 NumPy array, or None


class RowChange(NamedTuple):
    added: int
    removed: int


def row_set(stream: BinaryIO, fmt: RowFormat, max_rows: int = MAX_ROWS) -> RowSet:
    """Count and hash the rows of a line format (CSV, TSV, JSON lines, text) in one pass."""
    assert fmt.streams, fmt
    parts: list[Any] | None = []
    count = 0
    header = fmt.has_header
    for batch in record_blocks(stream, fmt.has_header):
        rows = [r for r in batch.rows if r.strip() and r != BOM]  # as rows_of counts them
        if header and rows:
            rows, header = rows[1:], False
        count += len(rows)
        if parts is not None and count > max_rows:
            parts = None  # too many to keep: counted on, compared by the net figure only
        if parts is not None and rows:
            parts.append(rowhash.hash_rows(rows))
    if parts is None:
        return RowSet(count, None)
    if not parts:
        return RowSet(0, rowhash.EMPTY)
    hashes = np.concatenate(parts) if len(parts) > 1 else parts[0]
    hashes.sort()  # in place: no second copy
    return RowSet(count, hashes)


def row_change(before: RowSet, after: RowSet) -> RowChange | None:
    """Rows `after` holds more times than `before` (added) and fewer times (removed), as
    multisets; None when either version's hashes were not kept (and it holds rows: a file
    added or emptied needs no comparison)."""
    if not before.rows or not after.rows:
        return RowChange(after.rows, before.rows)
    if before.hashes is None or after.hashes is None:
        return None
    added = _more(after.hashes, before.hashes)
    return RowChange(added, added - (after.rows - before.rows))


def _more(side: Any, other: Any) -> int:
    """How many of `side`'s rows (sorted hashes) `other` (sorted) does not hold, counting
    copies: a hash side holds 3 times and other once counts 2. Both hold rows (see
    `row_change`)."""
    first = np.empty(len(side), dtype=bool)  # where each run of equal hashes starts
    first[0] = True
    np.not_equal(side[1:], side[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    values, counts = side[starts], np.diff(starts, append=len(side))
    held = np.searchsorted(other, values, "right") - np.searchsorted(other, values, "left")
    return int(np.maximum(counts - held, 0).sum())
