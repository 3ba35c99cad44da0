"""Each row's key field found in a block of CSV/TSV rows with NumPy, and hashed in C: the
keyed split selection (`split rows`, lineage, impact) without a Python object per row.

Only a plain block is read this way: no double quote, NUL or CR other than before LF, no
empty record, every row holding the key's field. There a row's fields are the spans between
delimiter bytes (what `split rows` reads with `str.split` or the csv module); anything else
returns None and the caller reads the block as today, with the csv module and its one
sentence for a row that has too few fields.

Key and row hashes are the row hash of core/native.py (C, or rowhash.py's NumPy code, same
values), keyed by a secret drawn per process: the assignment's keys are hashed the same way
(core/assignments.py), so membership is one vectorised probe per block.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

from branchml.core import native, rowhash

_LF, _CR = 10, 13


def hash_spans(data: bytes, starts: Any, lens: Any) -> Any:
    """int64 row hash of data[s:s+n] for each (s, n) of the int64 arrays `starts`, `lens`."""
    if not native.available():
        return rowhash.hash_records(data, starts, lens)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    lens = np.ascontiguousarray(lens, dtype=np.int64)
    out = np.empty(len(starts), dtype=np.uint64)
    if len(starts):
        native.hash_spans(data, starts.ctypes.data, lens.ctypes.data, len(starts),
                          out.ctypes.data)
    return out.view(np.int64)


def row_spans(raw: bytes) -> tuple[Any, Any] | None:
    """(starts, lengths) of the records of `raw`, each ended by LF or CRLF (left out);
    None when the block is not plain (see the module's docstring)."""
    if not raw.endswith(b"\n") or b'"' in raw or b"\0" in raw:
        return None
    a = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(a == _LF)
    starts = np.zeros(len(ends), dtype=np.int64)
    starts[1:] = ends[:-1] + 1
    if b"\r" in raw:
        cr = np.flatnonzero(a == _CR)
        if (a[cr + 1] != _LF).any():  # a CR inside a record: the csv module reads it apart
            return None
        ends = ends - (a[np.maximum(ends - 1, 0)] == _CR)
    lens = ends - starts
    if not lens.all():  # an empty record: the csv module reads no field there
        return None
    return starts, lens


def key_spans(raw: bytes, starts: Any, lens: Any, delimiter: int, at: int
              ) -> tuple[Any, Any] | None:
    """(starts, lengths) of field `at` (0-based) of each record (`row_spans`'s) of `raw`;
    None when a record has fewer fields."""
    a = np.frombuffer(raw, dtype=np.uint8)
    d = np.flatnonzero(a == delimiter)
    ends = starts + lens
    if not len(d):
        return (starts, lens) if at == 0 else None
    first = np.searchsorted(d, starts)  # each record's first delimiter
    count = np.searchsorted(d, ends) - first  # its delimiters
    if (count < at).any():
        return None
    last = len(d) - 1
    begin = starts if at == 0 else d[np.minimum(first + at - 1, last)] + 1
    end = np.where(count > at, d[np.minimum(first + at, last)], ends)
    return begin, end - begin



class KeySet:
    """Key hashes to probe a block's keys against: the C hash table (one lookup a key; a
    binary search of 2M sorted keys took ~9 s of 10M rows' selection), else rowhash's
    HashSet (bitmap, then binary search)."""

    def __init__(self, sorted_hashes: Any) -> None:
        self._table: native.Table | None = None
        self._set: rowhash.HashSet | None = None
        if native.available():
            packed = array("Q")
            packed.frombytes(np.ascontiguousarray(sorted_hashes, dtype=np.int64).tobytes())
            self._table = native.Table()
            self._table.add(packed)
        else:
            self._set = rowhash.HashSet(sorted_hashes)

    def contains(self, values: Any) -> Any:
        """Boolean mask: which of the int64 `values` are in the set."""
        if self._set is not None:
            return self._set.contains(values)
        assert self._table is not None
        values = np.ascontiguousarray(values, dtype=np.int64)
        hit = np.zeros(len(values), dtype=np.uint8)
        if len(values) and len(self._table):
            self._table.hits_at(values.ctypes.data, len(values), hit.ctypes.data)
        return hit.view(bool)
