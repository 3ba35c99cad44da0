"""The rows each upload of the raw branch added, and the index of raw rows built from them
(ops/uploads.py finds the uploads). Cost: the bytes of each chain's newest version, once,
when every older version is a prefix of it (raw's append-only policy); a chain that is not
is read version by version."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from branchml.core import rowindex
from branchml.core.policy import Policy
from branchml.core.rowhash import EMPTY
from branchml.core.rowindex import RowIndex
from branchml.core.rowstream import stream_hashes
from branchml.ops import rowsource, uploads
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
    index: RowIndex
    not_rows: list[str]


def read_raw(g: Git, policy: Policy, cfg: dict[str, Any], raw: str | None) -> RawRows:
    """The raw branch's uploads (history order) and the index of its rows."""
    name = uploads.raw_branch(cfg, raw)
    tip = uploads.raw_tip(g, name)
    found, events, not_rows = uploads.read_events(g, policy, dict(cfg.get("formats") or {}),
                                                  tip)
    uploads.fetch_lfs(g, tip, events)
    parts: list[tuple[int, Any]] = []
    for chain in uploads.chains(events):
        parts.extend(chain_rows(g, chain))
    for u, h in parts:
        found[u].rows += len(h)
    index = rowindex.build_index(parts)
    return RawRows(name, tip, found, index, sorted(not_rows))


def chain_rows(g: Git, chain: list[Event]) -> list[tuple[int, Any]]:
    """(upload, hashes of the rows it added) for each event of a chain."""
    if all(e.new.pointer is not None for e in chain) and \
            (chain[0].old is None or chain[0].old.pointer is not None):
        found = _prefix_chain(g, chain)
        if found is not None:
            return found
    return [(e.upload, event_rows(g, e)) for e in chain]


def event_rows(g: Git, e: Event) -> Any:
    """The rows one change added: new's rows minus old's, as a multiset."""
    new = rowsource.all_hashes(g, e.new, e.path, e.fmt)
    if e.old is None:
        return new
    return rowindex.added(new, rowsource.all_hashes(g, e.old, e.path, e.fmt))


class _Cursor:
    """The newest version's bytes, handed out range by range, with a running SHA-256."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.rest, self.pos, self.last = chunks, b"", 0, b""
        self.sha = hashlib.sha256()

    def upto(self, end: int) -> Iterator[bytes]:
        while self.pos < end:
            if not self.rest:
                self.rest = next(self.chunks, b"")
                if not self.rest:
                    return
            piece, self.rest = self.rest[:end - self.pos], self.rest[end - self.pos:]
            self.sha.update(piece)
            self.pos += len(piece)
            self.last = piece[-1:]
            yield piece

    def proves(self, end: int, oid: str) -> bool:
        """Whether the bytes so far are that version: its size, its SHA-256, and a whole
        last row (a row it left open would be grown by the next upload, not added)."""
        return self.pos == end and (end == 0 or self.last == b"\n") and \
            self.sha.copy().hexdigest() == oid


def _prefix_chain(g: Git, chain: list[Event]) -> list[tuple[int, Any]] | None:
    """Each event's rows read from the newest version in one pass; None when an older
    version is not a prefix of it (read version by version instead)."""
    newest = chain[-1].new
    assert newest.pointer is not None
    cur = _Cursor(rowsource.chunks(g, newest, chain[-1].path))
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
        end_ok = cur.pos == e.new.size and (e is chain[-1] or cur.last == b"\n")
        if not end_ok or cur.sha.copy().hexdigest() != e.new.pointer.oid:
            return None
        out.append((e.upload, np.concatenate(parts) if parts else EMPTY))
    return out
