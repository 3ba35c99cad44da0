"""`monitor log` is idempotent by content: the rows of a file logged before are not logged
again (a rerun after a kill that had committed, or the same file given twice). Also where a
logged file's new blob is written, streamed: the old file (same name, same day) and the new
rows go into it without either being held whole in memory."""

from __future__ import annotations

import contextlib
import hashlib
import io
import tempfile
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from branchml.content import strategies
from branchml.core.lfs_pointer import MAX_POINTER_SIZE, parse_pointer
from branchml.core.rows import RowFormat
from branchml.repo import lfs, objectstore, proc

COPY = 1 << 20


@dataclass
class Rows:
    """The rows of a file being logged (after a CSV/TSV header), as they stream by: their
    size, SHA-256 and first line, ended by a newline as logged files are compared."""

    size: int = 0
    first: bytes = b""
    digest: Any = field(default_factory=hashlib.sha256)
    last: bytes = b""

    def add(self, data: bytes) -> None:
        if not data:
            return
        if not self.first:
            self.first = data.split(b"\n", 1)[0] + b"\n"
        self.digest.update(data)
        self.size += len(data)
        self.last = data[-1:]

    def end(self) -> None:
        if self.size and self.last != b"\n":
            self.add(b"\n")


def logged_before_stream(repo: objectstore.Repo, tip: str, dest: str, rows: Rows,
                         store: strategies.Store) -> bool:
    """Whether these rows were logged under this file name for this release already, on any
    day: they sit, as one block of whole lines, in a logged file of that name. Each old file
    is read as a stream: its lines equal to the rows' first line are the candidates, and each
    candidate's next `rows.size` bytes are hashed and compared."""
    if not rows.size or not rows.first.strip():
        return False
    folder, name = dest.rsplit("/", 2)[0], dest.rsplit("/", 1)[1]
    for day in _days(repo, tip, folder):
        with open_logged(repo, tip, f"{folder}/{day}/{name}", store) as old:
            if old is not None and _holds(old, rows):
                return True
    return False


def _days(repo: objectstore.Repo, tip: str, folder: str) -> list[str]:
    try:
        days = repo.pg[repo.pg[tip].tree[folder].id]
    except KeyError:
        return []
    return [d.name for d in days if d.type_str == "tree"]


def _holds(old: BinaryIO, rows: Rows) -> bool:
    starts, pos, ends_nl = array("q"), 0, True
    for line in old:  # by lines: bounded by the longest line, which `monitor log` bounds
        if line == rows.first or line + b"\n" == rows.first:
            starts.append(pos)
        pos += len(line)
        ends_nl = line.endswith(b"\n")
    size = pos + (0 if ends_nl else 1)  # compared as if it ended with a newline
    want = rows.digest.digest()
    for start in starts:
        if start + rows.size > size:
            break
        old.seek(start)
        h, left = hashlib.sha256(), rows.size
        while left and (chunk := old.read(min(COPY, left))):
            h.update(chunk)
            left -= len(chunk)
        if left == 1 and not ends_nl:
            h.update(b"\n")
            left = 0
        if not left and h.digest() == want:
            return True
    return False


@contextlib.contextmanager
def open_logged(repo: objectstore.Repo, tip: str | None, path: str, store: strategies.Store
                ) -> Iterator[BinaryIO | None]:
    """A logged file's content as a seekable stream (None when the path holds no file), as
    `logged_source` opens it; closed (a temporary file deleted) on leaving."""
    if not _is_blob(repo, tip, path):
        yield None
        return
    with logged_source(repo, tip, path, store)() as f:
        yield f


def _is_blob(repo: objectstore.Repo, commit: str | None, path: str) -> bool:
    try:
        entry = repo.pg[commit].tree[path] if commit else None
    except KeyError:
        return False
    return entry is not None and entry.type_str == "blob"


def logged_source(repo: objectstore.Repo, commit: str | None, path: str, store: strategies.Store
                  ) -> Callable[[], BinaryIO]:
    """A committed file as a source to open (what `monitor check` reads its monitored and
    training files through), never held whole: a git-lfs object from the store, a small blob
    from memory, a big plain blob inflated by `git cat-file` into a temporary file, deleted
    when closed (atk19-07: a 240 MB blob read whole peaked at 878 MB). No file: empty."""
    def open_() -> BinaryIO:
        try:
            entry = repo.pg[commit].tree[path] if commit else None
        except KeyError:
            entry = None
        if entry is None or entry.type_str != "blob":
            return io.BytesIO(b"")
        _, size = repo.pg.odb.read_header(entry.id)
        if size <= MAX_POINTER_SIZE:
            data = bytes(repo.pg[entry.id].data)
            pointer = parse_pointer(data)
            if pointer is None:
                return io.BytesIO(data)
            return lfs.open_object(store.common_dir, store.cwd, pointer, path)
        # the caller closes it (column_chunks' `with`): it is the file returned
        tmp = tempfile.TemporaryFile(prefix="branchml-logged-")  # noqa: SIM115
        try:
            args = ["git", "cat-file", "blob", str(entry.id)]
            proc.finish(proc.spawn_to(args, tmp, store.cwd), args)
        except BaseException:
            tmp.close()
            raise
        tmp.seek(0)
        return tmp
    return open_


def copy_old(old: BinaryIO, write: Callable[[bytes], object]) -> None:
    """The old file into the new blob, ended by a newline if it lacked one (rows follow)."""
    last = b"\n"
    while chunk := old.read(COPY):
        write(chunk)
        last = chunk[-1:]
    if last != b"\n":
        write(b"\n")


def logged_before(repo: objectstore.Repo, tip: str, dest: str, data: bytes,
                  fmt: RowFormat | None, store: strategies.Store) -> bool:
    """`logged_before_stream` for a file held whole (a Parquet file: logged before when it is
    byte for byte a logged file of that name)."""
    if fmt is not RowFormat.PARQUET:
        rows = Rows()
        rows.add(data if fmt is RowFormat.JSONL else data.partition(b"\n")[2])
        rows.end()
        return logged_before_stream(repo, tip, dest, rows, store)
    folder, name = dest.rsplit("/", 2)[0], dest.rsplit("/", 1)[1]
    for day in _days(repo, tip, folder):
        with open_logged(repo, tip, f"{folder}/{day}/{name}", store) as old:
            if old is not None and old.read() == data:
                return True
    return False
