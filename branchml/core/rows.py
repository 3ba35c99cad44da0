"""Row formats and record splitting on byte streams, in batches (C-speed splits, no per-row
copies). A record is returned without its line terminator."""

from __future__ import annotations

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


def record_batches(stream: BinaryIO, quoted: bool) -> Iterator[list[bytes]]:
    """Records of `stream` in batches, terminators (\\n or \\r\\n) removed. With `quoted`
    (CSV/TSV), a newline inside double quotes does not end a record."""
    rest = b""
    pending: list[bytes] = []  # the lines of a record still inside quotes
    while True:
        chunk = stream.read(CHUNK)
        buf = rest + chunk if rest else chunk
        if not chunk:
            lines = [buf] if buf else []
        else:
            lines = buf.split(b"\n")
            rest = lines.pop()
        if quoted and (pending or b'"' in buf):
            lines = _join_quoted(lines, pending)
        if lines:
            if b"\r" in buf:
                lines = [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]
            yield lines
        if not chunk:
            if pending:
                yield [b"\n".join(pending)]  # an unterminated quote: left for the parser
            return


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
