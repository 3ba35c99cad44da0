"""Files of a commit opened as streams for `split rows` and the leakage guard: a plain blob
through `git cat-file --batch` in chunks, a git-lfs file through its object in the store
(fetched when missing), never read whole. The assignment is bounded like the checker bounds it
(docs/security.md): its size (blob or LFS object, asked first) and its rows."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from branchml.core import assignments, bounds
from branchml.core.lfs_pointer import MAX_POINTER_SIZE, LfsPointer, parse_pointer
from branchml.core.split import ASSIGNMENT
from branchml.errors import UsageError
from branchml.repo import lfs
from branchml.repo.reader import Git


def _pointer(g: Git, spec: str) -> tuple[int, LfsPointer | None] | None:
    """(blob size, its LFS pointer or None); None: no such file."""
    found = g.cat.blob_size(spec)
    if found is None:
        return None
    small = found[1] <= MAX_POINTER_SIZE
    return found[1], parse_pointer((g.cat.read(spec) or ("", b""))[1]) if small else None


def chunks(g: Git, commit: str, path: str, limit: int | None = None) -> Iterator[bytes] | None:
    """The chunks of `commit:path` (None: no such file); bounds.TooLarge over `limit` before a
    byte is read (an LFS object: the pointer's size, then the object's)."""
    spec = f"{commit}:{path}"
    found = _pointer(g, spec)
    if found is None:
        return None
    size, pointer = found
    if pointer is None:
        if limit is not None and size > limit:
            raise bounds.TooLarge(f"{commit[:10]}:{path}", size, limit)
        return g.cat.stream(spec) or iter(())
    if limit is not None and pointer.size > limit:
        raise bounds.TooLarge(f"{commit[:10]}:{path}", pointer.size, limit)
    local = lfs.local_object(g.layout.common_dir, g.cwd, pointer, path)
    return _file_chunks(local, pointer.size if limit is not None else -1)


def _file_chunks(path: Path, size: int) -> Iterator[bytes]:
    with path.open("rb") as f:  # at most the size judged (-1: whole), even if it grew since
        while size != 0 and (chunk := f.read(1 << 20 if size < 0 else min(1 << 20, size))):
            size -= len(chunk) if size > 0 else 0
            yield chunk


def assignment(g: Git, commit: str, row_keys: bool = False) -> assignments.Hashed | None:
    """The commit's assignment, streamed and hashed (None: it has none; `row_keys`: see
    assignments.read_hashed); UsageError over the
    checker's bounds (bounds.SPLIT_ASSIGNMENT bytes, bounds.SPLIT_ROWS rows), not read on."""
    try:
        found = chunks(g, commit, ASSIGNMENT, bounds.SPLIT_ASSIGNMENT)
    except bounds.TooLarge as e:
        raise UsageError(f"{e.what} holds {e.size:,} bytes, over the {bounds.human(e.limit)} "
                         "the checker lets onto split, so it was not read: split the items "
                         "over fewer, shorter keys.") from None
    if found is None:
        return None
    return assignments.read_hashed(found, bounds.SPLIT_LINE, bounds.SPLIT_ROWS, row_keys)


class ChunkReader(io.RawIOBase):
    """A binary stream over an iterator of chunks (for the row readers of core/rows.py)."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self.source = source
        self.rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self.rest:
            self.rest = next(self.source, b"")
            if not self.rest:
                return 0
        n = min(len(buffer), len(self.rest))
        buffer[:n] = self.rest[:n]
        self.rest = self.rest[n:]
        return n


def open_file(g: Git, commit: str, path: str) -> BinaryIO:
    """`commit:path` as a buffered binary stream (an empty one when it is not there): a
    git-lfs file's object opened itself (~1 s of 445 MB went through the chunk generator)."""
    found = _pointer(g, f"{commit}:{path}")
    if found is not None and found[1] is not None:
        return lfs.local_object(g.layout.common_dir, g.cwd, found[1], path).open("rb")
    return io.BufferedReader(ChunkReader(chunks(g, commit, path) or iter(())), 1 << 18)
