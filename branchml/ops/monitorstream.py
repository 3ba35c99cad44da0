"""One file given to `monitor log`, streamed: read once in blocks of whole lines, each block
checked (rows, then numbers) and written into the new blob as it goes, so memory stays flat
whatever the file's size and what is written is what was checked. A file with quotes (a
field may span lines) is checked by a second, strict pass over the whole file, which must be
unchanged by then (its size, modification time and inode)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from branchml.content.logged import Rows, copy_old
from branchml.core.logcheck import LogCheck, blocks
from branchml.core.numfields import plain_numbers
from branchml.core.rows import RowFormat
from branchml.errors import StateError, UsageError
from branchml.ops.monitortables import column_chunks, floats
from branchml.repo import lfs, looseobj, objectstore


class Sink:
    """Where a logged file's new content goes as it streams: a git-lfs object (its pointer
    is committed) or a plain blob written straight into the object store (its id is)."""

    def __init__(self, w: objectstore.Repo, as_lfs: bool, object_format: str | None) -> None:
        self.as_lfs = as_lfs
        self.held: bytearray | None = None
        self.w: Any = None
        if as_lfs:
            self.w = lfs.ObjectWriter(w.common_dir)
        elif looseobj.usable(w.common_dir, object_format):
            self.w = looseobj.LooseBlobWriter(w.common_dir)
        else:
            self.held = bytearray()  # a SHA-256 repository: libgit2 writes it, from memory

    def write(self, data: bytes) -> int:
        if self.held is not None:
            self.held += data
            return len(data)
        return int(self.w.write(data))

    def finish(self) -> bytes | objectstore.Written:
        if self.held is not None:
            return bytes(self.held)
        if self.as_lfs:
            return bytes(self.w.finish().render())
        return objectstore.Written(self.w.finish())

    def abort(self) -> None:
        if self.w is not None:
            self.w.abort()


def numeric_columns(head: dict[str, Any], prediction: str) -> set[str]:
    """The columns numeric in the training data (judged on its first rows) and the prediction:
    `monitor check` compares them as numbers, so one word there, once on the append-only
    branch, would stop every later check of the release."""
    numeric = {prediction}
    for column, values in head.items():
        try:
            floats(values, column, "")
        except UsageError:
            continue  # categorical
        numeric.add(column)
    return numeric


def check_numbers(open_: Callable[[], BinaryIO], fmt: RowFormat | None, name: str,
                  numeric: set[str]) -> None:
    if fmt not in (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL):
        return
    for columns in column_chunks(open_, fmt, name):
        for column in numeric & set(columns):
            floats(columns[column], column, name)


def stream_file(f: Path, fmt: RowFormat | None, numeric: set[str], sink: Sink,
                old: BinaryIO | None) -> tuple[Rows, UsageError | None]:
    """Check every row of `f` and write it into `sink` (after `old`, the same name's file of
    that day, whose header it shares), block by block; UsageError at the first row that
    cannot be read. The first word in a numeric column is returned, not raised: the columns
    are judged between the two, as `monitor log` always has."""
    name, rows = str(f), Rows()
    word: UsageError | None = None
    check = LogCheck(fmt, name)
    if old is not None:
        copy_old(old, sink.write)
    with f.open("rb") as fh:
        before = os.fstat(fh.fileno())
        header, read = b"", 0
        for block in blocks(fh.read, name):
            read += len(block)
            check.feed(block)
            body = block
            if not header and fmt is not RowFormat.JSONL:
                head, nl, body = block.partition(b"\n")
                header = head + nl
            if not check.reader_needed and word is None:  # this block parses on its own
                try:
                    _block_numbers(fmt, name, numeric, header, body, check.fields)
                except UsageError as e:
                    word = e
            rows.add(body)
            sink.write(block if old is None and read == len(block) else body)
    if check.reader_needed:  # a quoted field may span lines: the whole file, strictly
        with f.open("rb") as fh:
            check.rows(io.TextIOWrapper(fh, encoding="utf-8", newline=""))
        try:
            check_numbers(lambda: f.open("rb"), fmt, name, numeric)
        except UsageError as e:
            word = word or e
        _unchanged(f, before, read)
    rows.end()
    return rows, word


def blank(f: Path) -> bool:
    """Whether `f` holds nothing but white space (read until the first other byte)."""
    with f.open("rb") as fh:
        while chunk := fh.read(1 << 16):
            if chunk.strip():
                return False
    return True


def _block_numbers(fmt: RowFormat | None, name: str, numeric: set[str], header: bytes,
                   body: bytes, fields: int) -> None:
    """The numbers of one block: plain decimal numbers pass at NumPy speed (numfields); a
    block with anything else in a numeric column goes to the exact reader."""
    if not body.strip():
        return
    if fmt in (RowFormat.CSV, RowFormat.TSV):
        cols = [c.strip('"\ufeff') for c in header.rstrip(b"\r\n").decode("utf-8").split(
            fmt.delimiter.decode())]
        if len(cols) == fields and plain_numbers(body, fmt.delimiter, fields,
                                                 [c in numeric for c in cols]):
            return
    check_numbers(_opener(header + body), fmt, name, numeric)


def _opener(data: bytes) -> Callable[[], BinaryIO]:
    return lambda: io.BytesIO(data)


def _unchanged(f: Path, before: os.stat_result, read: int) -> None:
    now = f.stat()
    if (now.st_size, now.st_mtime_ns, now.st_ino) != (read, before.st_mtime_ns, before.st_ino):
        raise StateError(f"{f} changed while it was being logged; log it again once it is "
                         "complete.")
