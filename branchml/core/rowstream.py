"""The row hashes of a stream in a row format, batch by batch (the one reading of rows of
core/rows.py): a CSV/TSV header is not a row, nor a blank JSON-lines line. The C hashes when
the library is there, else NumPy's (the same values); either way an int64 NumPy array."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np

from branchml.core import native, rowhash
from branchml.core.rows import Batch, RowFormat, record_blocks

LINE_FORMATS = (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL, RowFormat.TEXT)


def hash_block(raw: bytes) -> Any:
    """int64 hashes of the records of `raw` (each ended by \\n or \\r\\n)."""
    if native.available():
        return np.frombuffer(native.hash_lines(raw), dtype=np.int64)
    return rowhash.hash_lines(raw)


def hash_list(rows: list[bytes]) -> Any:
    """int64 hashes of rows given as bytes objects."""
    if native.available():
        return np.frombuffer(native.hash_rows(rows), dtype=np.int64)
    return rowhash.hash_rows(rows)


def _hashes(batch: Batch, fmt: RowFormat) -> Any:
    if fmt is RowFormat.JSONL:
        rows = [r for r in batch.rows if r.strip()]
        return hash_list(rows) if len(rows) != len(batch) or batch.raw is None \
            else hash_block(batch.raw)
    return hash_block(batch.raw) if batch.raw is not None else hash_list(batch.rows)


def stream_hashes(stream: BinaryIO, fmt: RowFormat, header: bool = True) -> Iterator[Any]:
    """Hash batches of `stream`'s rows; with `header` (a file's start) a CSV/TSV's first
    record is its header, not a row."""
    skip = header and fmt.has_header
    for batch in record_blocks(stream, fmt.has_header):
        if skip and len(batch):
            batch = Batch(None, batch.rows[1:])
            skip = False
        h = _hashes(batch, fmt)
        if len(h):
            yield h
