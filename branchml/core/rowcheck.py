"""Theirs' new rows checked before they are written: UTF-8, the format parses, every CSV/TSV
row has the header's field count. A batch whose raw bytes pass is written as read; otherwise
rows are checked one by one, and the first bad one is named."""

from __future__ import annotations

import csv
import json

from branchml.core.rows import RowFormat
from branchml.errors import UsageError


def rows_as_is(fmt: RowFormat, raw: bytes, header: bytes | None, term: bytes) -> int | None:
    """How many records a batch's raw bytes hold, when they can be written as they are:
    ours' terminators, no blank line, UTF-8, every row the header's field count (no quotes
    to parse). None sends the batch down the row-by-row path, which also says what is
    wrong."""
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    n = fields(fmt, header) if fmt.has_header and header is not None else 0
    if n > 1 and term == b"\n" and b'"' not in raw and b"\r" not in raw:
        # one pass: kept are the delimiters and newlines, `n-1 delimiters, newline` per row
        # (a blank line would be a bare newline)
        shape = raw.translate(None, _NOT_DELIMITER_OR_NEWLINE[fmt.delimiter])
        count = len(shape) // n
        return count if shape == (fmt.delimiter * (n - 1) + b"\n") * count else None
    count = raw.count(b"\n")
    if not terminated_by(raw, term, count):
        return None
    if fmt is not RowFormat.TEXT and (raw.startswith(term) or term + term in raw):
        return None
    if n:
        if b'"' in raw:
            return None
        d = fmt.delimiter
        if raw.translate(None, _NOT_DELIMITER_OR_NEWLINE[d]) != (d * (n - 1) + b"\n") * count:
            return None
    return count


def terminated_by(raw: bytes, term: bytes, records: int) -> bool:
    """True when `raw` ends each of its `records` with `term` (written as is, no join)."""
    if term == b"\n":
        return b"\r" not in raw
    return raw.count(b"\r\n") == records == raw.count(b"\n") and raw.count(b"\r") == records


def valid(fmt: RowFormat, batch: list[bytes], header: bytes | None, path: str,
           raw: bytes | None = None) -> list[bytes]:
    """Theirs' new rows, checked: UTF-8, and parsable as the format. Blank lines dropped.
    `raw`, when given, is the batch's own bytes: checked as is, no join."""
    if fmt is not RowFormat.TEXT and b"" in batch:
        batch = [r for r in batch if r]
        raw = None
    block = raw if raw is not None else b"\n".join(batch)
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: theirs' new rows are not valid UTF-8 text; re-encode the "
                         "file as UTF-8.") from None
    if fmt.has_header and header is not None:
        _check_fields(fmt, batch, block, header, path)
    elif fmt is RowFormat.JSONL:
        for row in batch:
            try:
                json.loads(row)
            except (ValueError, RecursionError):  # too deep a nesting is refused alike
                raise UsageError(f"{path}: a new row of theirs is not valid JSON: "
                                 f"{row[:80].decode(errors='replace')!r}.") from None
    return batch


def fields(fmt: RowFormat, row: bytes) -> int:
    """The row's field count; -1 when it is not CSV at all (a bare CR out of quotes: only LF
    and CRLF end a row, core/rows.py, so a CR elsewhere makes the row malformed)."""
    d = fmt.delimiter
    if b"\r" in row and (b'"' not in row or row.endswith(b"\r")):
        return -1
    if b'"' not in row:
        return row.count(d) + 1
    # surrogateescape: a header is not checked as UTF-8 (theirs' new rows are), and its
    # bytes that are not count as text all the same
    text = row.decode("utf-8", "surrogateescape")
    try:
        return len(next(csv.reader([text], delimiter=d.decode()), []))
    except csv.Error:
        return -1


def _check_fields(fmt: RowFormat, batch: list[bytes], block: bytes, header: bytes,
                  path: str) -> None:
    """Every row has the header's field count. Without quotes in the batch: the batch's
    delimiters and newlines only (bytes.translate) must read `n-1 delimiters, newline` per
    row, all at C speed, no loop per row."""
    n, d = fields(fmt, header), fmt.delimiter
    # every CR must be a CRLF terminator of a row (a raw CRLF batch); any other is bare
    cr_ok = b"\r" not in block or block.count(b"\r") == block.count(b"\r\n") == len(batch)
    if b'"' not in block and cr_ok:
        shape = block.translate(None, _NOT_DELIMITER_OR_NEWLINE[d])
        if not shape.endswith(b"\n"):
            shape += b"\n"
        if shape == (d * (n - 1) + b"\n") * len(batch):
            return
    for row in batch:
        plain = b'"' not in row and b"\r" not in row
        if (not plain or row.count(d) + 1 != n) and (found := fields(fmt, row)) != n:
            what = (f"is not valid {fmt.value.upper()}" if found < 0
                    else f"has {found} fields where the header has {n}")
            raise UsageError(f"{path}: a new row of theirs {what}: "
                             f"{row[:80].decode(errors='replace')!r}; fix the row on its branch.")


_NOT_DELIMITER_OR_NEWLINE = {
    d: bytes(c for c in range(256) if c not in (d[0], 10)) for d in (b",", b"\t")
}
