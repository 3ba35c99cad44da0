"""The rows each upload of the raw branch added, and the index of raw rows built from them
(ops/uploads.py finds the uploads). Cost: the bytes of each chain's newest version, once,
when every older version is a prefix of it (raw's append-only policy); a chain that is not
is read version by version. A merge's own rows (ops/uploads.py) cost no more read when its
version is its first parent's and then rows (the append merge driver's output), and its
other parents' versions were read as appends."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from branchml.core import rowindex
from branchml.core.native import UploadIndex
from branchml.core.policy import Policy
from branchml.core.rowhash import EMPTY
from branchml.core.rowindex import RowIndex
from branchml.core.rowstream import stream_hashes
from branchml.ops import rowsource, uploads
from branchml.ops.rowsource import Version
from branchml.ops.splitstream import ChunkReader
from branchml.ops.uploads import Event, Upload
from branchml.repo.reader import Git


@dataclass
class RawRows:
    """The raw branch read: its uploads (history order), the index of its rows, and its data
    files of no row format."""

    raw: str
    tip: str
    uploads: list[Upload]
    index: RowIndex | UploadIndex
    not_rows: list[str]


def read_raw(g: Git, policy: Policy, cfg: dict[str, Any], raw: str | None) -> RawRows:
    """The raw branch's uploads (history order) and the index of its rows."""
    return index_raw(collect_raw(g, policy, cfg, raw))


@dataclass
class RawParts:
    """The raw branch read, its index not built yet: (upload, hashes) per part."""

    raw: str
    tip: str
    uploads: list[Upload]
    parts: list[tuple[int, Any]]
    not_rows: list[str]


def collect_raw(g: Git, policy: Policy, cfg: dict[str, Any], raw: str | None) -> RawParts:
    """Every upload's added rows, hashed (8 bytes a raw row), the index not built."""
    name = uploads.raw_branch(cfg, raw)
    tip = uploads.raw_tip(g, name)
    found, events, not_rows = uploads.read_events(g, policy, dict(cfg.get("formats") or {}),
                                                  tip)
    uploads.fetch_lfs(g, tip, events)
    read = [(chain, *_chain_parts(g, chain)) for chain in uploads.chains(events)]
    fulls = _Fulls(g, read)
    parts = [(e.upload, _own(h, e, fulls.of)) for chain, hashes, _ in read
             for e, h in zip(chain, hashes, strict=True)]
    for u, h in parts:
        found[u].rows += len(h)
    return RawParts(name, tip, found, parts, sorted(not_rows))


def index_raw(read: RawParts) -> RawRows:
    """The index of `read`'s rows (its parts let go as they are copied in)."""
    index = rowindex.index(read.parts)
    return RawRows(read.raw, read.tip, read.uploads, index, read.not_rows)


def chain_rows(g: Git, chain: list[Event]) -> list[tuple[int, Any]]:
    """(upload, hashes of the rows it added) for each event of a chain; for a merge, only
    the rows in none of its parents' versions."""
    hashes, _ = _chain_parts(g, chain)
    return [(e.upload, _own(h, e, _read_whole(g)))
            for e, h in zip(chain, hashes, strict=True)]


def _read_whole(g: Git) -> Callable[[Event, Version], Any]:
    return lambda e, v: rowsource.all_hashes(g, v, e.path, e.fmt)


def _chain_parts(g: Git, chain: list[Event]) -> tuple[list[Any], bool]:
    """The rows each event added against its old version (its first parent's, for a
    merge), and whether they were read as appends (each version its old one's bytes and
    then those rows)."""
    if all(e.new.pointer is not None for e in chain) and \
            (chain[0].old is None or chain[0].old.pointer is not None):
        found = _prefix_chain(g, chain)
        if found is not None:
            return [h for _, h in found], True
    return [event_rows(g, e) for e in chain], False


def _own(added: Any, e: Event, full: Callable[[Event, Version], Any]) -> Any:
    """A merge's own rows: those past its first parent's version that its other parents'
    versions do not hold either (a multiset: rows both sides added are not the merge's)."""
    if not e.others:
        return added
    return rowindex.added(added, np.concatenate([full(e, v) for v in e.others]))


class _Fulls:
    """Every row of a version, rebuilt from the rows the uploads that grew it appended when
    each was read as an append (no read); else read from the version itself."""

    def __init__(self, g: Git, read: list[tuple[list[Event], list[Any], bool]]) -> None:
        self.g = g
        self.made: dict[tuple[str, str], tuple[Event, Any]] = {
            (e.path, e.new.blob): (e, h) for chain, hashes, appended in read if appended
            for e, h in zip(chain, hashes, strict=True)}

    def of(self, merge: Event, v: Version) -> Any:
        """The rows of `v`, the version of `merge`'s file in one of its other parents."""
        parts: list[Any] = []
        at: Version | None = v
        while at is not None:  # back along the appends to a version made from nothing
            step = self.made.get((merge.path, at.blob))
            if step is None:  # not read as an append: read this version whole
                parts.append(rowsource.all_hashes(self.g, at, merge.path, merge.fmt))
                break
            parts.append(step[1])
            at = step[0].old
        return np.concatenate(parts[::-1]) if parts else EMPTY


def event_rows(g: Git, e: Event) -> Any:
    """The rows one change added: new's rows minus old's, as a multiset."""
    new = rowsource.all_hashes(g, e.new, e.path, e.fmt)
    if e.old is None:
        return new
    return rowindex.added(new, rowsource.all_hashes(g, e.old, e.path, e.fmt))


class _Cursor:
    """The newest version's bytes, handed out range by range, with a running SHA-256."""

    def __init__(self, chunks: Iterator[bytes], quoted: bool) -> None:
        self.chunks, self.rest, self.pos, self.last = chunks, b"", 0, b""
        self.sha = hashlib.sha256()
        # core/rows.py keeps a CSV/TSV record open while the count of double quotes read
        # since the file's start is odd: an even count at a LF is a record's end
        self.quoted, self.quotes = quoted, 0

    def upto(self, end: int) -> Iterator[bytes]:
        while self.pos < end:
            if not self.rest:
                self.rest = next(self.chunks, b"")
                if not self.rest:
                    return
            piece, self.rest = self.rest[:end - self.pos], self.rest[end - self.pos:]
            self.sha.update(piece)
            if self.quoted:
                self.quotes += piece.count(b'"')
            self.pos += len(piece)
            self.last = piece[-1:]
            yield piece

    def at_record_end(self) -> bool:
        """Whether the bytes so far end a record as core/rows.py reads the whole file."""
        return self.pos == 0 or (self.last == b"\n" and self.quotes % 2 == 0)

    def proves(self, end: int, oid: str) -> bool:
        """Whether the bytes so far are that version: its size, its SHA-256, and a whole
        last record (a row it left open, even inside quotes across a LF, is completed by the
        next upload: the range-by-range reading would misread both)."""
        return self.pos == end and self.at_record_end() and \
            self.sha.copy().hexdigest() == oid


def _prefix_chain(g: Git, chain: list[Event]) -> list[tuple[int, Any]] | None:
    """Each event's rows read from the newest version in one pass; None when an older
    version is not a prefix of it (read version by version instead)."""
    newest = chain[-1].new
    assert newest.pointer is not None
    cur = _Cursor(rowsource.chunks(g, newest, chain[-1].path), chain[-1].fmt.has_header)
    base = chain[0].old
    if base is not None:
        assert base.pointer is not None
        for _ in cur.upto(base.size):
            pass
        if not cur.proves(base.size, base.pointer.oid):
            return None
    out: list[tuple[int, Any]] = []
    for e in chain:
        assert e.new.pointer is not None
        stream = io.BufferedReader(ChunkReader(cur.upto(e.new.size)), 1 << 18)
        parts = list(stream_hashes(stream, e.fmt, header=cur.pos == 0))
        # an older version ending inside a record (an open quote across a LF) sends the
        # chain to the version-by-version reading: the record then counts as added by the
        # upload that completed it (a new row there) and its open half by the one that
        # left it open (a row of that version), the same answer as for plain blobs
        end_ok = cur.pos == e.new.size and (e is chain[-1] or cur.at_record_end())
        if not end_ok or cur.sha.copy().hexdigest() != e.new.pointer.oid:
            return None
        out.append((e.upload, np.concatenate(parts) if parts else EMPTY))
    return out
