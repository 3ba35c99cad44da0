"""A file given to `monitor log` checked whole before anything is written: the monitoring
branch is append-only, so a row that cannot be read stays there for good and breaks every
later `monitor check` of its release. Each refusal names the file and the line. Also the
other inputs of the monitor commands: `--since`, and a logged file that cannot be read."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any

from branchml.core.rows import RowFormat
from branchml.errors import StateError, UsageError

_BARE_CR = re.compile(rb"\r(?!\n)")
_KEEP = {d: bytes(c for c in range(256) if c not in (d[0], 10)) for d in (b",", b"\t")}


BLOCK = 1 << 20  # a file is checked (and written) this many bytes of whole lines at a time
MAX_LINE = 32 << 20  # a longer line is refused: a block must end at a line end
# atk19-07: a table branchml reads (monitor log refuses more; check reports such a file as
# unreadable), so that a wide header committed on the monitoring branch cannot take gigabytes
MAX_COLUMNS = 10_000
MAX_HEADER = 1 << 20


def check_logged(data: bytes, fmt: RowFormat | None, name: str, block: int = BLOCK) -> None:
    """UsageError (with the line number) unless every row of `data` reads as `fmt`:
    UTF-8 text, no NUL byte, no byte-order mark past the start, no bare carriage return,
    CSV/TSV rows with the header's field count and balanced quotes, JSON lines that are
    objects. Formats other than CSV, TSV and JSON lines are left to their readers. The same
    check `monitor log` streams over a file (LogCheck), on bytes held whole."""
    check = LogCheck(fmt, name)
    for part in blocks(io.BytesIO(data).read, name, block):
        check.feed(part)
    if check.reader_needed:
        check.rows(io.StringIO(data.decode("utf-8"), newline=""))


def blocks(read: Callable[[int], bytes], name: str, size: int = BLOCK) -> Iterator[bytes]:
    """Whole lines, about `size` bytes at a time (the last may lack its newline): what
    LogCheck.feed takes. A line longer than MAX_LINE is refused (memory stays bounded)."""
    rest, line = b"", 1
    while chunk := read(size):
        buf = rest + chunk if rest else chunk
        cut = buf.rfind(b"\n") + 1
        if rest and (buf.find(b"\n") if cut else len(buf)) > MAX_LINE:
            raise UsageError(f"{name}: line {line} is longer than {MAX_LINE >> 20} MiB; "
                             "split it into rows and log the file again.")
        if cut == 0:
            rest = buf
            continue
        yield buf[:cut]
        line += buf.count(b"\n", 0, cut)
        rest = buf[cut:]
    if len(rest) > MAX_LINE:
        raise UsageError(f"{name}: line {line} is longer than {MAX_LINE >> 20} MiB; split it "
                         "into rows and log the file again.")
    if rest:
        yield rest


class LogCheck:
    """The checks of `check_logged`, fed a file in blocks of whole lines (`blocks`). CSV/TSV
    rows are counted at C speed while a block holds no quote; otherwise (or when a count is
    off) `reader_needed` is set and `rows` must be given the whole file as text lines, for
    the csv module's strict reader to find the exact line and reason."""

    def __init__(self, fmt: RowFormat | None, name: str) -> None:
        self.fmt, self.name = fmt, name
        self.active = fmt in (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL)
        self.line = 1  # the number of the next block's first line
        self.fields = -1  # the header's field count
        self.reader_needed = False

    def feed(self, block: bytes) -> None:
        if not self.active:
            return
        text = _text(block, self.name, self.line, first=self.line == 1)
        if self.line == 1 and self.fmt is not RowFormat.JSONL:
            _check_header(block.split(b"\n", 1)[0], self.fmt, self.name)
        if self.fmt is RowFormat.JSONL:
            _check_json_lines(text or block.decode("ascii"), self.name, self.line)
        elif not self.reader_needed:
            self._count(block)
        self.line += block.count(b"\n")

    def _count(self, block: bytes) -> None:
        assert self.fmt is not None
        d = self.fmt.delimiter
        if self.fields < 0:
            self.fields = block.split(b"\n", 1)[0].rstrip(b"\r").count(d) + 1
        if b'"' in block:
            self.reader_needed = True
            return
        n = self.fields  # no quotes: the delimiters and newlines alone say the field counts
        shape = (block if block.endswith(b"\n") else block + b"\n").translate(None, _KEEP[d])
        if shape != (d * (n - 1) + b"\n") * (len(shape) // n):
            self.reader_needed = True

    def rows(self, lines: Iterable[str]) -> None:
        """The strict csv pass over the whole file (text lines, newline=''), when needed."""
        assert self.fmt in (RowFormat.CSV, RowFormat.TSV)
        _check_table(lines, self.fmt, self.name)


def _line(data: bytes, at: int) -> int:
    return data.count(b"\n", 0, at) + 1


def _text(data: bytes, name: str, line: int = 1, first: bool = True) -> str | None:
    """The block as text (None when it is ASCII: nothing to decode); refused with the line."""
    text = None
    if not data.isascii():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise UsageError(f"{name}: line {line - 1 + _line(data, e.start)} is not valid "
                             "UTF-8 text; re-encode the file as UTF-8 and log it again.") from None
    problems = [(data.find(b"\0"), "holds a NUL byte"),
                (data.find(b"\xef\xbb\xbf", 1 if first else 0),
                 "holds a byte-order mark (U+FEFF)"),
                (next((m.start() for m in _BARE_CR.finditer(data)), -1)
                 if b"\r" in data else -1, "holds a bare carriage return")]
    found = [(at, what) for at, what in problems if at >= 0]
    if found:
        at, what = min(found)
        raise UsageError(f"{name}: line {line - 1 + _line(data, at)} {what}; remove it and log "
                         "the file again.")
    return text


def _check_json_lines(text: str, name: str, first: int = 1) -> None:
    if first == 1:  # a byte-order mark at the very start is allowed (see _text)
        text = text.removeprefix("\ufeff")
    for number, line in enumerate(text.split("\n"), first):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise UsageError(f"{name}: line {number} is not valid JSON; fix it and log the "
                             "file again.") from None
        except RecursionError:  # Python's json recurses per nesting level
            raise UsageError(f"{name}: line {number} nests its JSON too deeply to read; "
                             "log rows of plain column values.") from None
        if not isinstance(row, dict):
            raise UsageError(f"{name}: line {number} is a JSON {type(row).__name__}, not an "
                             "object of column values; fix it and log the file again.")
        if len(row) > MAX_COLUMNS:
            raise UsageError(f"{name}: line {number} has {len(row):,} columns, more than the "
                             f"{MAX_COLUMNS:,} branchml reads; log the training columns only.")


def _check_header(header: bytes, fmt: RowFormat | None, name: str) -> None:
    assert fmt is not None
    if len(header) > MAX_HEADER:
        raise UsageError(f"{name}: line 1 (the header) is longer than {MAX_HEADER >> 20} MiB; "
                         "log the training columns only.")
    width = header.count(fmt.delimiter) + 1  # quoted delimiters too: an upper bound
    if width > MAX_COLUMNS:
        raise UsageError(f"{name}: line 1 (the header) has {width:,} columns, more than the "
                         f"{MAX_COLUMNS:,} branchml reads; log the training columns only.")


def _check_table(lines: Iterable[str], fmt: RowFormat, name: str) -> None:
    reader = csv.reader(lines, delimiter=fmt.delimiter.decode(), strict=True)
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


def logged_since(paths: Iterable[str], prefix: str, since: str | None, tag: str,
                 none_logged: str) -> list[str]:
    """The logged files under `prefix` (`monitoring/<client>/<tag>/`) whose day folder is on
    or after `since`, sorted. None there: `none_logged` when nothing was ever logged, else
    a sentence naming the last day logged, so a --since past it is not read as "no data"."""
    under = sorted(p for p in paths if p.startswith(prefix))
    picked = [p for p in under if since is None or p[len(prefix):len(prefix) + 10] >= since]
    if picked:
        return picked
    if not under:
        raise UsageError(none_logged)
    last = max(p[len(prefix):len(prefix) + 10] for p in under)
    raise UsageError(f"nothing logged for {tag} on or after {since} (the last day logged is "
                     f"{last}); give an earlier --since.")


def dated(paths: Iterable[str], prefix: str, since: str | None
          ) -> tuple[list[str], list[str]]:
    """The files under `prefix` that `monitor check` reads, and those it skips: only files in
    a day folder (`prefix`YYYY-MM-DD/, a real date) are rows `monitor log` wrote; anything else
    on the untrusted monitoring branch (a notes file, a `zzzz/` folder) is skipped and named,
    so it can neither block every check nor escape --since. Both sorted."""
    kept, skipped = [], []
    for p in paths:
        if not p.startswith(prefix):
            continue
        day, sep, _ = p[len(prefix):].partition("/")
        if not sep or _day(day) is None:
            skipped.append(p)
        elif since is None or day >= since:
            kept.append(p)
    return sorted(kept), sorted(skipped)


def _day(text: str) -> date | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if len(text) == 10 and day.isoformat() == text else None


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
    except (ValueError, csv.Error, AttributeError, TypeError, RecursionError) as e:
        # RecursionError: a JSON line nesting thousands of arrays, committed by hand
        reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise StateError(f"{path} on {branch} cannot be read ({reason}); check only the days "
                         "after it with --since YYYY-MM-DD.") from None
