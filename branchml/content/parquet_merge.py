"""Append for Parquet files (pyarrow, the optional `parquet` extra): ours' rows, then theirs'
new rows (theirs minus base as a multiset, minus the rows ours added too). Same schema
required on both sides; a table is held in memory (Parquet is columnar, not streamable by
rows the way CSV is)."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

from branchml.errors import ConflictError, ToolMissing


def append_parquet(base: bytes | None, ours: bytes, theirs: bytes, path: str
                   ) -> tuple[bytes, int]:
    """Ours' rows, then theirs' new rows, and how many were appended."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ToolMissing(f"{path}: merging Parquet needs pyarrow: pip install "
                          "'branchml[parquet]'.") from None

    def read(data: bytes | None) -> Any:
        return pq.read_table(pa.BufferReader(data)) if data else None

    tb, to, tt = read(base), read(ours), read(theirs)
    if not to.schema.equals(tt.schema, check_metadata=False):
        raise ConflictError(f"{path}: the Parquet schemas of ours and theirs differ; make them "
                            "equal on both branches, then merge again.")

    def rows(t: Any) -> list[tuple[Any, ...]]:
        return list(zip(*(c.to_pylist() for c in t.columns), strict=True)) if t else []

    left = Counter(rows(tb))
    ours_new = Counter(rows(to)) - left
    keep = []
    for row in rows(tt):
        if left[row]:
            left[row] -= 1
            keep.append(False)
        elif ours_new[row]:
            ours_new[row] -= 1
            keep.append(False)
        else:
            keep.append(True)
    if not any(keep):
        return ours, 0
    merged = pa.concat_tables([to, tt.filter(pa.array(keep))])
    out = io.BytesIO()
    pq.write_table(merged, out)
    return out.getvalue(), sum(keep)
