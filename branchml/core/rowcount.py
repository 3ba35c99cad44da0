"""How many rows a data file holds, read from a byte stream (for `branchml diff`)."""

from __future__ import annotations

from typing import BinaryIO

from branchml.core.jsoncount import NotCounted, count_items
from branchml.core.rows import BOM, RowFormat, record_blocks


def count_rows(stream: BinaryIO, fmt: RowFormat) -> int | None:
    """`rows_of`, None where that says why not."""
    try:
        return rows_of(stream, fmt)
    except NotCounted:
        return None


def rows_of(stream: BinaryIO, fmt: RowFormat) -> int:
    """Rows of a line format (the header of CSV/TSV and blank lines not counted) or items
    of a top-level JSON array (streamed: no object is built); NotCounted, with why, for a
    format this cannot count from bytes alone (SQLite, Parquet) or a JSON file whose items
    cannot be counted (not an array, nested too deep)."""
    if fmt is RowFormat.JSON:
        return count_items(stream)
    if not fmt.streams:
        raise NotCounted(f"{fmt.value} rows are not counted from bytes")
    records = 0
    for batch in record_blocks(stream, fmt.has_header):
        records += sum(1 for r in batch.rows if r.strip() and r != BOM)
    return max(records - 1, 0) if fmt.has_header else records
