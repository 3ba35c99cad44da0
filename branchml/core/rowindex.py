"""Row lineage, pure: the raw branch's log read into uploads, the rows an upload added (a
byte-prefix growth or a multiset difference), and the index of raw rows by hash (each row's
earliest upload), counted against the rows a release trained on.

Rows are compared by the row hashes of core/native.py (C) or core/rowhash.py (NumPy, the
same values): 8 bytes a row, no Python object per row. With the C library the index is a
hash table (native.UploadIndex: ~16 bytes a raw row, built in one pass and probed once a
training row); without it, sorted arrays holding, per distinct raw row, its hash (8 bytes),
its earliest upload (4 bytes) and whether other uploads added it too (1 byte): ~13 bytes a
raw row, ~30 while they are sorted. Both give the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from branchml.core import native
from branchml.core.changes import Change
from branchml.core.rowhash import EMPTY

LOG_FORMAT = "%x01%H%x00%an%x00%ae%x00%aI%x00"  # what parse_log reads (with --raw -z)
REGULAR = ("100644", "100755")  # file modes whose bytes are rows: never a symlink or gitlink


@dataclass
class LogCommit:
    """One commit of the raw branch's log and the paths it changed. For a merge (read with
    `git log -c`: only the paths that differ from every parent), each change is against the
    first parent and `others` holds, per path, the other parents' (mode, blob)."""

    sha: str
    author: str
    email: str
    date: str
    changes: list[Change] = field(default_factory=list)
    others: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def parse_log(raw: bytes) -> Iterator[LogCommit]:
    """The commits of `git log --raw -z --format=LOG_FORMAT`, read token by token: a path
    is taken by its position after its `:meta` token, so no byte of it is read as syntax."""
    tokens = raw.split(b"\0")
    i, current = 0, None
    while i < len(tokens):
        tok = tokens[i].lstrip(b"\n")
        if tok.startswith(b"\x01") and i + 3 < len(tokens):
            if current is not None:
                yield current
            author, email, date = (t.decode("utf-8", errors="replace")
                                   for t in tokens[i + 1:i + 4])
            current = LogCommit(tok[1:].decode(), author, email, date)
            i += 4
        elif tok.startswith(b":") and current is not None and i + 1 < len(tokens):
            change, others = _change(tok, tokens[i + 1])
            current.changes.append(change)
            if others:
                current.others[change.path] = others
            i += 2
        else:
            i += 1
    if current is not None:
        yield current


def _change(meta: bytes, path: bytes) -> tuple[Change, list[tuple[str, str]]]:
    """A `:meta` token (one colon a parent: `::m1 m2 mM o1 o2 oM MM` for a two-parent
    merge) as a change against the first parent, and the other parents' (mode, blob)."""
    n = len(meta) - len(meta.lstrip(b":"))
    fields = meta[n:].decode().split(" ")
    modes, oids, status = fields[:n + 1], fields[n + 1:2 * n + 2], fields[2 * n + 1 + 1:]
    first = "A" if oids[0].strip("0") == "" else status[0][0] if status else "M"
    change = Change(first, path.decode("utf-8", errors="surrogateescape"), oids[0], oids[n],
                    modes[0], modes[n])
    return change, list(zip(modes[1:n], oids[1:n], strict=True))


def added(new: Any, old: Any) -> Any:
    """The rows (hashes) of `new` that `old` does not hold, as a multiset: a row twice in
    new and once in old was added once."""
    if not len(old):
        return new
    new_sorted, old_sorted = np.sort(new), np.sort(old)
    rank = np.arange(len(new_sorted)) - np.searchsorted(new_sorted, new_sorted, "left")
    before = (np.searchsorted(old_sorted, new_sorted, "right")
              - np.searchsorted(old_sorted, new_sorted, "left"))
    return new_sorted[rank >= before]


@dataclass
class RowIndex:
    """Every distinct raw row's hash (sorted), its earliest upload, and whether more than
    one upload added its bytes."""

    hashes: Any  # int64, sorted, distinct
    earliest: Any  # int32: index of the upload, in history order
    shared: Any  # bool


def build_index(parts: list[tuple[int, Any]]) -> RowIndex:
    """The index from (upload index, hashes of the rows it added) parts, in any order; the
    list is emptied as it is read (peak memory: ~30 bytes a row, for the sort)."""
    parts.sort(key=lambda p: p[0])  # a stable sort then keeps each run's uploads in order
    hashes = np.empty(sum(len(h) for _, h in parts), dtype=np.int64)
    uploads = np.empty(len(hashes), dtype=np.int32)
    at = 0
    for i, (u, h) in enumerate(parts):  # each part let go once copied: never all twice
        hashes[at:at + len(h)] = h
        uploads[at:at + len(h)] = u
        at += len(h)
        parts[i] = (u, EMPTY)
    parts.clear()
    uploads = uploads[np.argsort(hashes, kind="stable")]
    hashes.sort()  # in place: the same values as hashes[order], without a second copy
    if not len(hashes):
        return RowIndex(hashes, uploads, np.empty(0, dtype=bool))
    first = np.empty(len(hashes), dtype=bool)
    first[0] = True
    np.not_equal(hashes[1:], hashes[:-1], out=first[1:])
    last = np.empty(len(hashes), dtype=bool)
    last[-1] = True
    last[:-1] = first[1:]
    shared = uploads[first] != uploads[last]  # within a run the uploads ascend
    if first.all():  # no row added twice (the usual case): no copies
        return RowIndex(hashes, uploads, shared)
    return RowIndex(hashes[first], uploads[first], shared)


PROBES = 1 << 20  # hashes searched at once: sorted, a million probes share the cache (~4x)


@dataclass
class Tally:
    """Rows counted against an index: per upload, not held by any, held by several. Batches
    are gathered up to PROBES hashes (8 MiB) before they are searched; `finish()` searches
    the rest."""

    index: RowIndex
    per_upload: Any  # int64, one count per upload
    total: int = 0
    unmatched: int = 0
    duplicates: int = 0
    _waiting: list[Any] = field(default_factory=list)
    _held: int = 0

    def add(self, hashes: Any) -> None:
        self._waiting.append(hashes)
        self._held += len(hashes)
        if self._held >= PROBES:
            self.finish()

    def finish(self) -> None:
        if not self._waiting:
            return
        hashes = np.concatenate(self._waiting)
        self._waiting, self._held = [], 0
        self.total += len(hashes)
        if not len(self.index.hashes):
            self.unmatched += len(hashes)
            return
        hashes.sort()  # only counts are kept: the order of the rows does not matter
        pos = np.searchsorted(self.index.hashes, hashes)
        pos[pos == len(self.index.hashes)] = 0
        pos = pos[self.index.hashes[pos] == hashes]
        self.unmatched += int(len(hashes) - len(pos))
        self.duplicates += int(self.index.shared[pos].sum())
        self.per_upload += np.bincount(self.index.earliest[pos],
                                       minlength=len(self.per_upload))


def index(parts: list[tuple[int, Any]]) -> RowIndex | native.UploadIndex:
    """The index of raw rows from (upload index, hashes) parts, in any order, emptying the
    list as it is read: the C table when the library is there (no sort: the sort of 10M
    hashes was most of `lineage --rows`'s time past 10 s), else `build_index`."""
    rows = sum(len(h) for _, h in parts)
    if not native.available() or rows > native.MAX_ROWS or \
            any(u > native.MAX_UPLOADS for u, _ in parts):
        return build_index(parts)  # beyond what the table numbers: sorted, slower
    table = native.UploadIndex(rows)
    for i, (u, h) in enumerate(parts):
        h = np.ascontiguousarray(h, dtype=np.int64)
        table.add_at(u, h.ctypes.data, len(h))
        parts[i] = (u, EMPTY)  # let go once in the table: never all twice
    parts.clear()
    return table


@dataclass
class TableTally:
    """Tally's counts against the C table: each batch probed as it comes (no sort)."""

    index: native.UploadIndex
    per_upload: Any  # int64, one count per upload
    total: int = 0
    unmatched: int = 0
    duplicates: int = 0

    def add(self, hashes: Any) -> None:
        h = np.ascontiguousarray(hashes, dtype=np.int64)
        found, shared = self.index.count_at(h.ctypes.data, len(h), self.per_upload.ctypes.data,
                                            len(self.per_upload))
        self.total += len(h)
        self.unmatched += len(h) - found
        self.duplicates += shared

    def finish(self) -> None:
        """Nothing waits: here so that both tallies are used alike."""


def tally(index: RowIndex | native.UploadIndex, uploads: int) -> Tally | TableTally:
    counts = np.zeros(uploads, dtype=np.int64)
    if isinstance(index, native.UploadIndex):
        return TableTally(index, counts)
    return Tally(index, counts)


def withdrawn_set(parts: Iterable[Any]) -> Any:
    """The sorted distinct hashes of the rows to withdraw."""
    found = [p for p in parts if len(p)]
    return np.unique(np.concatenate(found)) if found else EMPTY


SET_ROWS = 1 << 20  # larger sets are searched (sorted probes): a table per batch is 16 MiB


def count_in(withdrawn: Any, hashes: Any) -> int:
    """How many of `hashes` (with repeats) are among the sorted `withdrawn`."""
    if not len(withdrawn) or not len(hashes):
        return 0
    if native.available() and len(withdrawn) <= min(4 * len(hashes), SET_ROWS):
        # a C table of the set, made for this batch and let go after it: one probe a hash
        # where a search took ~14 mispredicted steps (an insert costs about a probe, so the
        # table pays off from a batch a quarter of the set's size: impact's batches are
        # often one file of rows, smaller than the set)
        table = native.UploadIndex(len(withdrawn))
        w = np.ascontiguousarray(withdrawn, dtype=np.int64)
        table.add_at(0, w.ctypes.data, len(w))
        h = np.ascontiguousarray(hashes, dtype=np.int64)
        one = np.zeros(1, dtype=np.int64)
        return table.count_at(h.ctypes.data, len(h), one.ctypes.data, 1)[0]
    if len(withdrawn) > 1 << 16:  # past the CPU cache: sorted probes share it
        hashes = np.sort(hashes)
    pos = np.searchsorted(withdrawn, hashes)
    pos[pos == len(withdrawn)] = 0
    return int((withdrawn[pos] == hashes).sum())
