"""`impact`'s counts per split name on the split branch, in one pass over its data: each
held row's key looked up once for its split code, where one selection per split name read
the branch's rows (and probed the assignment) once for each name.

The rows are selected as `split rows` selects them (ops/trainrows.py's selector, every
split name at once); a plain CSV/TSV block by the keys' row hashes (core/keyspans.py), any
other block by the keys read with the csv module and Python's hash, each against the
assignment's keys sorted with their split codes.

A release's training selection is split names of one (data commit, assignment) too: when
its files, key and assignment are the split branch's (`fingerprint`), the one pass that
counts the split branch's names counts the release's as well (ops/impact.py).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
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


@dataclass
class Coded:
    """Per split name (`names`' order): the selected rows among the withdrawn (`held`) and
    among the hashes an earlier upload added too (`shared`)."""

    names: list[str]
    held: list[int]
    shared: list[int]

    def total(self, names: list[str]) -> tuple[int, int]:
        """The rows split names `names` select, as one selection of them counts them."""
        at = [i for i, n in enumerate(self.names) if n in set(names)]
        return sum(self.held[i] for i in at), sum(self.shared[i] for i in at)


def fingerprint(g: Git, path: Path, commit: str, digest: str = "") -> tuple[Any, ...] | None:
    """What a keyed selection of `commit` reads (the assignment, the key, each source file's
    path and object): two commits with one fingerprint select the same rows under each split
    name. None when the selection is by file (no key): select as before."""
    hashed, key, repo, cfg = trainrows.source(g, path, commit, digest)
    if key is None or hashed.row_keys is None:
        return None
    oids = {p: oid for _, oid, p in g.ls_tree(commit)}
    files = splitrows._sources(repo, commit, cfg)
    return (hashed.digest, key, tuple((p, oids.get(p)) for p in files))


def coded_counts(g: Git, path: Path, commit: str, only: Any, shared: Any) -> Coded | None:
    """How many rows among the sorted hashes `only` (and among `shared`) each split name of
    `commit`'s assignment holds, in one pass; None when one pass cannot say (no key: the
    items are files; or a key in the assignment twice, whose rows count in each of its
    splits): select name by name."""
    hashed = trainrows.cached_assignment(g, commit)
    if hashed is None or hashed.row_keys is None:
        return None
    by_row = hashed.row_codes()
    if by_row is None:
        return None
    rows, files, cfg = trainrows.selector(g, path, commit, [], _Coding)
    if rows.key is None:
        return None
    assert isinstance(rows, _Coding)
    rows.only, rows.shared = only, shared
    rows.start(hashed, by_row)
    rows.write(files, cfg, lambda block: None)
    return Coded(list(hashed.names), rows.counts.tolist(), rows.shared_counts.tolist())


def split_counts(g: Git, path: Path, tip: str, only: Any) -> dict[str, int] | None:
    """`coded_counts`' rows among `only` by split name."""
    found = coded_counts(g, path, tip, only, None)
    return None if found is None else dict(zip(found.names, found.held, strict=True))


def _find(sorted_keys: Any, codes: Any, keys: Any) -> tuple[Any, Any]:
    """Which of `keys` are in `sorted_keys` (a mask), and the split codes of those found."""
    if not len(sorted_keys) or not len(keys):
        return np.zeros(len(keys), dtype=bool), codes[:0]
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    found = sorted_keys[at] == keys
    return found, codes[at[found]]


class _Coding(trainrows._Hashing):
    """The selection of every split name, counting each selected row under its key's split
    code (and, with `shared`, whether it is among those hashes) instead of hashing it for a
    sink."""

    counts: Any
    shared_counts: Any
    shared: Any | None = None
    _hashed: assignments.Hashed
    _by_hash: tuple[Any, Any] | None = None  # sorted when a block is read as a list: rarely
    _kept: Any = None  # the split codes of the rows the last probe kept, in their order

    def start(self, hashed: assignments.Hashed, by_row: tuple[Any, Any]) -> None:
        self._hashed = hashed
        self.counts = np.zeros(len(hashed.names), dtype=np.int64)
        self.shared_counts = np.zeros(len(hashed.names), dtype=np.int64)
        self.probe = lambda keys: self._probe(*by_row, keys)
        self.sink = self._take

    def _probe(self, sorted_keys: Any, codes: Any, keys: Any) -> Any:
        found, self._kept = _find(sorted_keys, codes, keys)
        if self.only is None:  # no row hashes reach the sink: count here
            self._add(self._kept, None)
        return found if self.only is not None else np.zeros(len(keys), dtype=bool)

    def _take(self, hashes: Any) -> None:
        """The kept rows' hashes (`_block` hands them over in the probe's order)."""
        self._add(self._kept, hashes)

    def _add(self, codes: Any, hashes: Any | None) -> None:
        self.counts += np.bincount(codes, minlength=len(self.counts))
        if self.shared is not None and hashes is not None and len(hashes):
            inside = member(hashes, self.shared)
            self.shared_counts += np.bincount(codes[inside], minlength=len(self.counts))

    def _chosen(self, p: str, fmt: RowFormat, header: bytes | None, records: list[bytes]
                ) -> list[bytes]:
        hashes = hash_list(records) if records else None
        if self.only is not None and hashes is not None:
            keep = member(hashes, self.only)
            records, hashes = list(compress(records, keep)), hashes[keep]
        if not records:  # still split rows' checks of the header (the key is a column)
            return splitrows._Rows._chosen(self, p, fmt, header, [])
        try:
            values = splitrows._keys(p, fmt, header, records, str(self.key))
        except (ValueError, IndexError, KeyError, TypeError, csv.Error):
            return splitrows._Rows._chosen(self, p, fmt, header, records)  # its one sentence
        keys = np.fromiter(map(assignments.key_hash, values), dtype=np.int64,
                           count=len(values))
        if self._by_hash is None:
            order = np.argsort(self._hashed.keys, kind="stable")
            self._by_hash = (self._hashed.keys[order], self._hashed.splits[order])
        found, codes = _find(*self._by_hash, keys)
        self._add(codes, hashes[found] if hashes is not None else None)
        return []
