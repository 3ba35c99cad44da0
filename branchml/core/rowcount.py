"""How many rows a data file holds, read from a byte stream (for `branchml diff`)."""

from __future__ import annotations

import json
from typing import BinaryIO

from branchml.core.rows import BOM, RowFormat, record_blocks


def count_rows(stream: BinaryIO, fmt: RowFormat) -> int | None:
    """Rows of a line format (the header of CSV/TSV and blank lines not counted) or items
    of a top-level JSON array; None for a format this cannot count from bytes alone
    (SQLite, Parquet) or a JSON file that holds no array."""
    if fmt is RowFormat.JSON:
        return _json_items(stream)
    if not fmt.streams:
        return None
    records = 0
    for batch in record_blocks(stream, fmt.has_header):
        records += sum(1 for r in batch.rows if r.strip() and r != BOM)
    return max(records - 1, 0) if fmt.has_header else records


def _json_items(stream: BinaryIO) -> int | None:
    try:
        data = json.load(stream)
    except ValueError:  # not JSON (or not UTF-8): no rows to count
        return None
    return len(data) if isinstance(data, list) else None
