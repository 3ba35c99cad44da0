"""Row formats and record splitting on byte streams, in batches (C-speed splits, no per-row
copies). A record is returned without its line terminator.

The one reading of rows, for every door (pull/merge's append and its C and NumPy row hashes,
split, split check, --validate, new-row detection): a row ends at LF; a CR right before that
LF is part of the terminator (CRLF); any other CR is a byte of the row, never a row end (a CR
as the file's very last byte ends the last row, as CRLF would); the last row may lack its
terminator. In CSV/TSV a LF inside double quotes does not end the row, and a CR outside quotes
makes the row malformed (it is refused or, under --validate, dropped), never two rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import BinaryIO

from branchml.core.globs import glob_regex

CHUNK = 1 << 18  # bytes read at a time: bounds every per-batch temporary
BOM = b"\xef\xbb\xbf"


class RowFormat(StrEnum):
    CSV = "csv"
    TSV = "tsv"
    JSONL = "jsonl"
    TEXT = "text"
    JSON = "json"  # a top-level JSON array
    SQLITE = "sqlite"
    PARQUET = "parquet"

    @property
    def has_header(self) -> bool:
        return self in (RowFormat.CSV, RowFormat.TSV)

    @property
    def delimiter(self) -> bytes:
        return b"\t" if self is RowFormat.TSV else b","

    @property
    def streams(self) -> bool:
        """Line-record formats, merged as byte streams by `append_rows`."""
        return self in (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL, RowFormat.TEXT)


BY_EXTENSION = {
    ".csv": RowFormat.CSV, ".tsv": RowFormat.TSV, ".jsonl": RowFormat.JSONL,
    ".ndjson": RowFormat.JSONL, ".txt": RowFormat.TEXT, ".log": RowFormat.TEXT,
    ".json": RowFormat.JSON, ".sqlite": RowFormat.SQLITE, ".sqlite3": RowFormat.SQLITE,
    ".db": RowFormat.SQLITE, ".parquet": RowFormat.PARQUET,
}


def format_for(path: str, overrides: Mapping[str, str] | None = None) -> RowFormat | None:
    """The row format of `path`: a glob in `overrides` (config `formats:`) first, then the
    extension. None: no row format (a binary file, an image): merged as a whole file."""
    for glob, fmt in (overrides or {}).items():
        if glob_regex(glob).match(path):
            return RowFormat(fmt)
    dot = path.rfind(".")
    return BY_EXTENSION.get(path[dot:].lower()) if dot > path.rfind("/") else None


class Batch:
    """A batch of records: the raw bytes they were read from (each record ended by \\n or
    \\r\\n) when those are known, and the records themselves, split only when asked for."""

    __slots__ = ("_rows", "raw")

    def __init__(self, raw: bytes | None, rows: list[bytes] | None = None) -> None:
        self.raw = raw
        self._rows = rows

    @property
    def rows(self) -> list[bytes]:
        if self._rows is None:
            assert self.raw is not None
            lines = self.raw.split(b"\n")
            lines.pop()
            self._rows = _strip_cr(lines) if b"\r" in self.raw else lines
        return self._rows

    def __len__(self) -> int:
        if self._rows is not None:
            return len(self._rows)
        assert self.raw is not None
        return self.raw.count(b"\n")


def record_batches(stream: BinaryIO, quoted: bool) -> Iterator[list[bytes]]:
    """Records of `stream` in batches, terminators (\\n or \\r\\n) removed. With `quoted`
    (CSV/TSV), a newline inside double quotes does not end a record."""
    for batch in record_blocks(stream, quoted):
        yield batch.rows


def record_blocks(stream: BinaryIO, quoted: bool) -> Iterator[Batch]:
    """Batches of records; a batch keeps its raw bytes unless a quoted record spans batches
    (or the stream ends unterminated). Records are split only when a caller needs them."""
    rest = b""
    tail: list[bytes] = []  # chunks read since the last LF: a long line, joined once
    pending: list[bytes] = []  # the lines of a record still inside quotes
    while True:
        chunk = stream.read(CHUNK)
        if chunk and b"\n" not in chunk:  # never rejoin and rescan a line still growing
            tail.append(chunk)
            continue
        if tail:
            rest, tail = b"".join([rest, *tail]), []
        buf = rest + chunk if rest else chunk
        if not chunk:
            if buf:
                lines = [buf[:-1] if buf.endswith(b"\r") else buf]
                if quoted and pending:
                    lines = _join_quoted(lines, pending)
                if lines:
                    yield Batch(None, lines)
            if pending:
                yield Batch(None, [b"\n".join(pending)])  # unterminated quote: for the parser
            return
        if quoted and (pending or b'"' in buf):
            lines = buf.split(b"\n")
            rest = lines.pop()
            lines = _join_quoted(lines, pending)
            if b"\r" in buf:
                lines = _strip_cr(lines)
            if lines:
                yield Batch(None, lines)
            continue
        cut = buf.rfind(b"\n") + 1
        rest = buf[cut:]
        if cut:
            yield Batch(buf[:cut])


def _strip_cr(lines: list[bytes]) -> list[bytes]:
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


def _join_quoted(lines: list[bytes], pending: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for line in lines:
        if pending:
            pending.append(line)
            if line.count(b'"') % 2:
                out.append(b"\n".join(pending))
                pending.clear()
        elif line.count(b'"') % 2:
            pending.append(line)
        else:
            out.append(line)
    return out


def line_ending(head: bytes) -> bytes:
    """The terminator a file uses, from its first line (\\n when it has none)."""
    i = head.find(b"\n")
    return b"\r\n" if i > 0 and head[i - 1:i] == b"\r" else b"\n"


class BadRow(ValueError):
    """A record that is not one row of its format; the message says why, in a few words."""


def numbered_records(data: bytes, fmt: RowFormat) -> Iterator[tuple[int, bytes]]:
    """Every record of a whole file with its row number (1 is the first record: a CSV
    header is row 1; blank rows are numbered too), by the one reading of rows above."""
    n = 0
    for batch in record_batches(io.BytesIO(data), fmt.has_header):
        for record in batch:
            n += 1
            yield n, record


def csv_fields(record: bytes, fmt: RowFormat) -> list[str]:
    """The fields of one CSV/TSV record; BadRow when it is not one row: not UTF-8, or a CR
    outside quotes (only LF and CRLF end a row, so the row is malformed, not two rows)."""
    try:
        text = record.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRow("it is not valid UTF-8 text") from None
    if "\r" in text and ('"' not in text or text.endswith("\r")):
        raise BadRow("it holds a CR that ends no row (only LF or CRLF end a row)")
    try:
        return next(csv.reader([text], delimiter=fmt.delimiter.decode()), [])
    except csv.Error as e:
        if "new-line" in str(e):
            raise BadRow("it holds a CR that ends no row (only LF or CRLF end a row)") from None
        raise BadRow(f"it is not valid {fmt.value.upper()} ({e})") from None
