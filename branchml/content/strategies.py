"""One file's merge by its strategy, on blob contents: the function both doors call.

Door 1 (`branchml merge` / `pull`) passes blob bytes read with pygit2; door 2 (the git merge
driver) passes the bytes git wrote to %O %A %B. Blob contents of git-lfs files are pointers:
the content is read from the LFS store, merged, written back as a new object, and the result
is a new pointer. Same inputs, same bytes out, whichever door.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, Protocol

from branchml.content import rowworker
from branchml.core.append import AppendStats, RowFilter, append_rows
from branchml.core.jsonarray import append_json_items
from branchml.core.lfs_pointer import LfsPointer, parse_pointer
from branchml.core.policy import Policy
from branchml.core.rows import RowFormat, format_for
from branchml.errors import ConflictError
from branchml.repo import lfs

APPEND, OVERWRITE, TEXT = "append", "overwrite", "text"


class Store(NamedTuple):
    """Where LFS objects live and where git-lfs may be run to fetch missing ones."""

    common_dir: Path
    cwd: Path


# One side of a file merge: blob content (small blobs, git-lfs pointers, the driver's files),
# or a way to stream a big plain blob without holding it in memory.
Side = bytes | Callable[[], BinaryIO]


@dataclass
class FileMerge:
    content: bytes  # the result blob's content (a pointer for git-lfs files)
    rows_added: int = 0
    fast_path: bool = False
    oid: str | None = None  # set instead of content when the result went to a BlobWriter
    rows_removed: int = 0  # rows theirs removed since base, removed from ours (carried)


class BlobSink(Protocol):
    def write(self, data: bytes) -> int: ...
    def finish(self) -> str: ...
    def abort(self) -> None: ...


def _source(data: Side, store: Store, path: str) -> Callable[[], BinaryIO]:
    if callable(data):
        return data
    pointer = parse_pointer(data)
    if pointer is None:
        return lambda: io.BytesIO(data)
    return lambda: lfs.open_object(store.common_dir, store.cwd, pointer, path)


def _read(data: Side, store: Store, path: str) -> bytes:
    with _source(data, store, path)() as f:
        return f.read()


def _is_pointer(data: Side | None) -> bool:
    return isinstance(data, bytes) and parse_pointer(data) is not None


def append_file(path: str, base: Side | None, ours: Side, theirs: Side, store: Store,
                formats: Mapping[str, str] | None = None,
                row_filter_for: Callable[[str, RowFormat], RowFilter | None] | None = None,
                sink: Callable[[], BlobSink] | None = None, widen: bool = False,
                carry: bool = False, as_lfs: bool | None = None) -> FileMerge:
    """Append-merge one file changed on both sides (base None: added on both). With
    `carry` (a pull whose pair carries removals), the rows theirs removed since base are
    first removed from ours where ours still holds them (core/removals.py): row files only.
    `as_lfs`: whether the result is a git-lfs file (None: as ours is, or theirs when ours is
    empty)."""
    fmt = format_for(path, formats)
    if as_lfs is None:
        as_lfs = _is_pointer(ours) or (_is_pointer(theirs) and ours == b"")
    if carry and base is not None and fmt is not None and fmt.streams:
        with _Carried(fmt, base, ours, theirs, store, path) as kept:
            carried = append_file(path, base, kept.ours, theirs, store, formats,
                                  row_filter_for, sink, widen, as_lfs=as_lfs)
            carried.rows_removed = kept.removed
            return carried
    if fmt is RowFormat.SQLITE:
        from branchml.content.sqlite_merge import append_sqlite

        merged, rows = append_sqlite(None if base is None else _read(base, store, path),
                                     _read(ours, store, path), _read(theirs, store, path), path,
                                     store.common_dir / "branchml" / "tmp")
        return FileMerge(_store(merged, as_lfs, store), rows)
    if fmt is RowFormat.PARQUET:
        from branchml.content.parquet_merge import append_parquet

        merged, rows = append_parquet(None if base is None else _read(base, store, path),
                                      _read(ours, store, path), _read(theirs, store, path), path)
        return FileMerge(_store(merged, as_lfs, store), rows)
    if fmt is None:
        why = "it has no row format"
        raise ConflictError(
            f"{path}: changed on both sides and {why}; keep one side's version on one branch "
            "(or add rows in a new file), then merge again."
        )
    if fmt is RowFormat.JSON:
        merged, rows = append_json_items(None if base is None else _read(base, store, path),
                                         _read(ours, store, path), _read(theirs, store, path),
                                         path)
        return FileMerge(_store(merged, as_lfs, store), rows)
    out: Any
    # git-lfs objects are files: the rows both sides added are found by the helper process
    # while ours is copied here (see rowworker), when the command started one
    pending = _ask_helper(fmt, base, ours, theirs, store, path)
    writer: Any = lfs.ObjectWriter(store.common_dir) if as_lfs else (sink() if sink else None)
    out = writer if writer is not None else io.BytesIO()
    try:
        stats: AppendStats = append_rows(
            fmt, None if base is None else _source(base, store, path),
            _source(ours, store, path), _source(theirs, store, path), out, path,
            row_filter_for(path, fmt) if row_filter_for is not None else None, widen,
            pending.result if pending is not None else None)
        if pending is not None:
            pending.result()  # read, even when it was not needed (the next file's comes next)
    except BaseException:
        if pending is not None:
            rowworker.stop()  # its answer may be unread
        if writer is not None:
            writer.abort()
        raise
    if as_lfs:
        return FileMerge(writer.finish().render(), stats.rows_added, stats.fast_path)
    if writer is not None:
        return FileMerge(b"", stats.rows_added, stats.fast_path, oid=writer.finish())
    return FileMerge(out.getvalue(), stats.rows_added, stats.fast_path)


class _Carried:
    """Ours without the rows theirs removed since base, in a temp file under the git dir
    (never a whole file in memory), or ours itself when it holds none of them."""

    def __init__(self, fmt: RowFormat, base: Side, ours: Side, theirs: Side, store: Store,
                 path: str) -> None:
        self.ours: Side = ours
        self.removed = 0
        self.tmp: Path | None = None
        self._args = fmt, base, theirs, store, path

    def __enter__(self) -> _Carried:
        from branchml.core.removals import drop_rows, removed_rows

        fmt, base, theirs, store, path = self._args
        gone = removed_rows(fmt, _source(base, store, path), _source(theirs, store, path))
        if not gone:
            return self
        import tempfile

        root = store.common_dir / "branchml" / "tmp"
        root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=root, prefix="carry-")
        tmp = self.tmp = Path(name)
        with open(fd, "wb") as out:
            self.removed = drop_rows(fmt, _source(self.ours, store, path), gone, out)
        if self.removed:
            self.ours = lambda: tmp.open("rb")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


def _ask_helper(fmt: RowFormat, base: Side | None, ours: Side, theirs: Side, store: Store,
                path: str) -> rowworker.Pending | None:
    """The helper's answer for sides that are files (git-lfs objects, big blobs inflated to
    temp files); None when it is not running or a side is only in memory."""
    if not rowworker.running():
        return None
    files = [None if s is None else _file_of(s, store, path) for s in (base, ours, theirs)]
    b, o, t = files
    if o is None or t is None or (base is not None and b is None):
        return None
    return rowworker.submit(fmt.value, b, o, t)


def _file_of(side: Side, store: Store, path: str) -> Path | None:
    if isinstance(side, bytes):
        pointer = parse_pointer(side)
        return None if pointer is None else lfs.local_object(store.common_dir, store.cwd,
                                                             pointer, path)
    where = getattr(side, "path", None)
    return where() if callable(where) else None


def _store(data: bytes, as_lfs: bool, store: Store) -> bytes:
    if not as_lfs:
        return data
    writer = lfs.ObjectWriter(store.common_dir)
    writer.write(data)
    return writer.finish().render()


def pointer_of(data: bytes) -> LfsPointer | None:
    return parse_pointer(data)


def blob_for(path: str, data: bytes, policy: Policy, store: Store) -> bytes:
    """What branchml commits for a file it writes itself: a git-lfs pointer (the object
    stored) when the path's class lives in git-lfs, so a checkout leaves a clean worktree."""
    return _store(data, policy.classify(path) in policy.lfs_classes, store)
