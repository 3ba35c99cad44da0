"""A version of a data file (a git blob, or the git-lfs object its pointer names) streamed
for its rows: never read whole. Shared by row lineage's readers (uploads, training rows,
impact)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from branchml.core.lfs_pointer import MAX_POINTER_SIZE, LfsPointer, parse_pointer
from branchml.core.rows import RowFormat
from branchml.core.rowstream import stream_hashes
from branchml.ops.splitstream import ChunkReader, _file_chunks
from branchml.repo import lfs
from branchml.repo.reader import Git


class Version(NamedTuple):
    """One version of a file: its blob, and the LFS object when the blob is a pointer."""

    blob: str
    size: int  # of the content: the LFS object's when there is one
    pointer: LfsPointer | None

    @property
    def ident(self) -> str:
        """What names the content: the LFS oid, else the blob id (a cache key)."""
        return self.pointer.oid if self.pointer else self.blob


def version(g: Git, blob: str) -> Version | None:
    """The version a blob id holds (None: no such blob here)."""
    found = g.cat.info(blob)
    if found is None:
        return None
    pointer = None
    if found[1] <= MAX_POINTER_SIZE:
        pointer = parse_pointer((g.cat.read(blob) or ("", b""))[1])
    return Version(blob, pointer.size if pointer else found[1], pointer)


def chunks(g: Git, v: Version, path: str) -> Iterator[bytes]:
    """The content's chunks; a missing LFS object is fetched, else StateError naming it."""
    if v.pointer is None:
        return _blob_chunks(g, v.blob)
    local = lfs.local_object(g.layout.common_dir, g.cwd, v.pointer, path)
    return _file_chunks(local, v.pointer.size)


def _blob_chunks(g: Git, blob: str) -> Iterator[bytes]:
    # streamed from the one cat-file process: read one version to its end before the next
    yield from g.cat.stream(blob) or iter(())


def hashes(g: Git, v: Version | None, path: str, fmt: RowFormat) -> Iterator[Any]:
    """Batches of the row hashes of a version (none for None)."""
    if v is None:
        return iter(())
    import io

    stream = io.BufferedReader(ChunkReader(chunks(g, v, path)), 1 << 18)
    return stream_hashes(stream, fmt)


def all_hashes(g: Git, v: Version | None, path: str, fmt: RowFormat) -> Any:
    """Every row hash of a version, in one array (8 bytes a row)."""
    import numpy as np

    from branchml.core.rowhash import EMPTY

    parts = list(hashes(g, v, path, fmt))
    return np.concatenate(parts) if parts else EMPTY
