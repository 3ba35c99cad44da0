"""`impact`'s counts per split name on the split branch, in one pass over its data: each
held row's key looked up once for its split code, where one selection per split name read
the branch's rows (and probed the assignment) once for each name.

The rows are selected as `split rows` selects them (ops/trainrows.py's selector, every
split name at once); a plain CSV/TSV block by the keys' row hashes (core/keyspans.py), any
other block by the keys read with the csv module and Python's hash, each against the
assignment's keys sorted with their split codes.
"""

from __future__ import annotations

import csv
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np

from branchml.core import assignments
from branchml.core.rowhash import member
from branchml.core.rows import RowFormat
from branchml.core.rowstream import hash_list
from branchml.ops import splitrows, trainrows
from branchml.repo.reader import Git


def split_counts(g: Git, path: Path, tip: str, only: Any) -> dict[str, int] | None:
    """How many rows among the sorted hashes `only` each split name of `tip`'s assignment
    holds; None when one pass cannot say (no key: the items are files; or a key in the
    assignment twice, whose rows count in each of its splits): select name by name."""
    hashed = trainrows.cached_assignment(g, tip)
    if hashed is None or hashed.row_keys is None:
        return None
    by_row = hashed.row_codes()
    if by_row is None:
        return None
    rows, files, cfg = trainrows.selector(g, path, tip, list(hashed.names), _Coding)
    if rows.key is None:
        return None
    assert isinstance(rows, _Coding)
    rows.only = only
    rows.start(hashed, by_row)
    rows.write(files, cfg, lambda block: None)
    return {name: int(n) for name, n in zip(hashed.names, rows.counts.tolist(), strict=True)}


def _codes(sorted_keys: Any, codes: Any, keys: Any) -> Any:
    """The split code of each of `keys` found in `sorted_keys` (those not found dropped)."""
    if not len(sorted_keys) or not len(keys):
        return codes[:0]
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    found = sorted_keys[at] == keys
    return codes[at[found]]


class _Coding(trainrows._Hashing):
    """The selection of every split name, counting each selected row under its key's split
    code instead of hashing it for a sink."""

    counts: Any
    _by_hash: tuple[Any, Any]

    def start(self, hashed: assignments.Hashed, by_row: tuple[Any, Any]) -> None:
        order = np.argsort(hashed.keys, kind="stable")
        self._by_hash = (hashed.keys[order], hashed.splits[order])
        self.counts = np.zeros(len(hashed.names), dtype=np.int64)
        self.probe = lambda keys: self._count(*by_row, keys)

    def _count(self, sorted_keys: Any, codes: Any, keys: Any) -> Any:
        found = _codes(sorted_keys, codes, keys)
        self.counts += np.bincount(found, minlength=len(self.counts))
        return np.zeros(len(keys), dtype=bool)  # nothing to hash: the counts are the answer

    def _chosen(self, p: str, fmt: RowFormat, header: bytes | None, records: list[bytes]
                ) -> list[bytes]:
        if self.only is not None and records:
            records = list(compress(records, member(hash_list(records), self.only)))
        if not records:  # still split rows' checks of the header (the key is a column)
            return splitrows._Rows._chosen(self, p, fmt, header, [])
        try:
            values = splitrows._keys(p, fmt, header, records, str(self.key))
        except (ValueError, IndexError, KeyError, TypeError, csv.Error):
            return splitrows._Rows._chosen(self, p, fmt, header, records)  # its one sentence
        keys = np.fromiter(map(assignments.key_hash, values), dtype=np.int64,
                           count=len(values))
        found = _codes(*self._by_hash, keys)
        self.counts += np.bincount(found, minlength=len(self.counts))
        return []
