"""A file given to `monitor log` checked whole before anything is written: the monitoring
branch is append-only, so a row that cannot be read stays there for good and breaks every
later `monitor check` of its release. Each refusal names the file and the line. Also the
other inputs of the monitor commands: `--since`, and a logged file that cannot be read."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from branchml.core.rows import RowFormat
from branchml.errors import StateError, UsageError

_BARE_CR = re.compile(rb"\r(?!\n)")
_KEEP = {d: bytes(c for c in range(256) if c not in (d[0], 10)) for d in (b",", b"\t")}


def check_logged(data: bytes, fmt: RowFormat | None, name: str) -> None:
    """UsageError (with the line number) unless every row of `data` reads as `fmt`:
    UTF-8 text, no NUL byte, no byte-order mark past the start, no bare carriage return,
    CSV/TSV rows with the header's field count and balanced quotes, JSON lines that are
    objects. Formats other than CSV, TSV and JSON lines are left to their readers."""
    if fmt not in (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL):
        return
    text = _text(data, name)
    if fmt is RowFormat.JSONL:
        _check_json_lines(text, name)
    else:
        _check_table(data, text, fmt, name)


def _line(data: bytes, at: int) -> int:
    return data.count(b"\n", 0, at) + 1


def _text(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{name}: line {_line(data, e.start)} is not valid UTF-8 text; "
                         "re-encode the file as UTF-8 and log it again.") from None
    problems = [(data.find(b"\0"), "holds a NUL byte"),
                (data.find(b"\xef\xbb\xbf", 1), "holds a byte-order mark (U+FEFF)"),
                (next((m.start() for m in _BARE_CR.finditer(data)), -1),
                 "holds a bare carriage return")]
    found = [(at, what) for at, what in problems if at >= 0]
    if found:
        at, what = min(found)
        raise UsageError(f"{name}: line {_line(data, at)} {what}; remove it and log the file "
                         "again.")
    return text


def _check_json_lines(text: str, name: str) -> None:
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise UsageError(f"{name}: line {number} is not valid JSON; fix it and log the "
                             "file again.") from None
        if not isinstance(row, dict):
            raise UsageError(f"{name}: line {number} is a JSON {type(row).__name__}, not an "
                             "object of column values; fix it and log the file again.")


def _check_table(data: bytes, text: str, fmt: RowFormat, name: str) -> None:
    d = fmt.delimiter
    header = data.split(b"\n", 1)[0].rstrip(b"\r")
    if b'"' not in data:
        # no quotes: the delimiters and newlines alone say every row's field count (C speed)
        n = header.count(d) + 1
        body = data if data.endswith(b"\n") else data + b"\n"
        shape = body.translate(None, _KEEP[d])
        if shape == (d * (n - 1) + b"\n") * (len(shape) // n):
            return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=d.decode(), strict=True)
    n, start = -1, 1  # start: the line a record begins on (a quoted field may span lines)
    try:
        for row in reader:
            if n < 0:
                n = len(row)
            elif len(row) != n:
                raise UsageError(f"{name}: line {start} has {len(row)} field(s) where "
                                 f"the header has {n}; fix the row and log the file again.")
            start = reader.line_num + 1
    except csv.Error as e:
        raise UsageError(f"{name}: line {start} cannot be read as "
                         f"{fmt.value.upper()} ({e}); check its quotes and log the file "
                         "again.") from None


def check_since(since: str | None) -> str | None:
    """--since as YYYY-MM-DD (compared as text with the day folders, so it must be one)."""
    if since is None:
        return None
    try:
        day: date | None = date.fromisoformat(since)
    except ValueError:
        day = None
    if day is None or len(since) != 10:
        raise UsageError(f"--since {since!r} is not a date; give it as YYYY-MM-DD.")
    return day.isoformat()


def check_log_date(given: str | None, today: date, released: date, tag: str) -> str:
    """The day folder `monitor log` writes to: today (UTC), or --date as YYYY-MM-DD (it names
    a folder, so it must be exactly that) between the release's tag date and today."""
    if given is None:
        return today.isoformat()
    try:
        day: date | None = date.fromisoformat(given)
    except ValueError:
        day = None
    if day is None or len(given) != 10:
        raise UsageError(f"--date {given!r} is not a date; give it as YYYY-MM-DD.")
    if day > today:
        raise UsageError(f"--date {given} is in the future (today is {today.isoformat()} in "
                         "UTC); give a day that has begun.")
    if day < released:
        raise UsageError(f"--date {given} is before {tag} was released "
                         f"({released.isoformat()}), so that day's rows are not its "
                         "predictions; give a day on or after it.")
    return day.isoformat()


def readable(chunks: Iterator[dict[str, Any]], path: str, branch: str
             ) -> Iterator[dict[str, Any]]:
    """A logged file that cannot be read (committed before `monitor log` checked rows, or by
    hand) is one sentence, not a traceback; the append-only branch keeps it, so say how to
    check around it."""
    try:
        yield from chunks
    except (ValueError, csv.Error, AttributeError, TypeError) as e:
        reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise StateError(f"{path} on {branch} cannot be read ({reason}); check only the days "
                         "after it with --since YYYY-MM-DD.") from None
