"""Split stability judged in memory that grows with the rows (~70 bytes each), not the file.

The assignment (`key,split` rows) may hold millions of items and comes from a pusher, so it is
read as a stream of chunks, twice: the first pass keeps, per row, a 64-bit hash of its key and
the index of its split name (numpy arrays: 8 + 1 bytes); the comparison is a sort; the second
pass looks up the names of the few keys found wrong, to say which. Python's `hash` of bytes is
keyed by a secret drawn for each process, so a pusher cannot pick two keys that collide; a
collision by chance among n keys has odds n^2 / 2^65 and can only hide an item removed or
moved onto a key of the same hash.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from branchml.core.changes import Change
from branchml.errors import UsageError

ASSIGNMENT = "data/split/assignment.csv"

Chunks = Callable[[], Iterable[bytes]]  # a fresh stream of the file's bytes at each call
MAX_SAID = 100  # problems named one by one; the rest are counted


class _Names:
    """Split names seen, as small indices (a file names a handful)."""

    def __init__(self) -> None:
        self.index: dict[bytes, int] = {}
        self.names: list[str] = []

    def of(self, name: bytes) -> int:
        found = self.index.get(name)
        if found is None:
            if len(self.names) >= 255:
                raise UsageError("it names more than 255 different splits")
            found = self.index[name] = len(self.names)
            self.names.append(name.decode("utf-8"))
        return found


def rows(chunks: Iterable[bytes], max_line: int) -> Iterator[tuple[bytes, bytes]]:
    """(key, split) of every row after the `key,split` header, as UTF-8 bytes; a row over
    `max_line` bytes, bad UTF-8 or a bad CSV quote raises before anything else is read."""
    for keys, names in blocks(chunks, max_line):
        yield from zip(keys, names, strict=True)


def blocks(chunks: Iterable[bytes], max_line: int) -> Iterator[tuple[list[bytes], list[bytes]]]:
    """(keys, split names) of the rows of each chunk: a chunk of plain `key,split` lines is cut
    by two C calls, not a Python call per row (5x slower); quotes go through the csv module."""
    header = True
    for data in _lines(chunks, max_line):
        if header and data:
            first, _, data = data.partition(b"\n")
            if first.removesuffix(b"\r") != b"key,split":
                raise UsageError("the header must be key,split")
            header = False
        body = data.rstrip(b"\n")
        lines = body.count(b"\n") + 1 if body else 0
        if lines and b'"' not in body and b"\r" not in body and b"\n\n" not in body \
                and body.count(b",") == lines:
            fields = body.replace(b"\n", b",").split(b",")
            yield fields[0::2], fields[1::2]
        else:
            # one reading of rows (core/rows.py): only LF or CRLF end a row
            rows = [_row(line.removesuffix(b"\r")) for line in body.split(b"\n")
                    if line not in (b"", b"\r")]
            yield [r[0] for r in rows], [r[1] for r in rows]


def _row(line: bytes) -> list[bytes]:
    if b"\r" in line:
        raise UsageError(f"the row {line[:80].decode('utf-8', 'replace')!r} holds a CR that "
                         "ends no row (only LF or CRLF end a row)")
    if b'"' in line:  # quoted: the csv module's rules (never across lines: keys are one line)
        fields = next(csv.reader([line.decode("utf-8")], strict=True))
        parsed = [f.encode("utf-8") for f in fields]
    else:
        parsed = line.split(b",")
    if len(parsed) < 2:
        raise UsageError(f"the row {line[:80].decode('utf-8', 'replace')!r} names no split")
    return parsed


def _lines(chunks: Iterable[bytes], max_line: int) -> Iterator[bytes]:
    """The chunks cut after their last newline (a row whole in one piece)."""
    rest = b""
    for chunk in chunks:
        data = rest + chunk
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if len(rest) > max_line:
            raise UsageError(f"a row is longer than {max_line:,} bytes")
        data[:cut].decode("utf-8")  # refused here, not written back: the keys stay bytes
        yield data[:cut]
    if rest:
        rest.decode("utf-8")
        yield rest


def deletion(old: Chunks | None, max_line: int) -> str | None:
    """Why deleting the assignment `old` breaks split stability, None when it assigned no
    item: a deleted assignment would let the next one move every item, as nothing older is
    compared with an added file. One that cannot be read or parsed is taken to hold items."""
    if old is None:
        return (f"{ASSIGNMENT} is deleted and its content cannot be read here to show it "
                "assigned no item")
    try:
        held = next(iter(rows(old(), max_line)), None) is not None
    except (UsageError, UnicodeDecodeError, csv.Error):
        held = True
    return f"{ASSIGNMENT} is deleted while it assigns items" if held else None


def paired(changes: Iterable[tuple[str, Change]]) -> Iterator[tuple[str, Change]]:
    """The assignment's changes in the order of the walk (oldest first), an added one given as
    its old side the last assignment before it in the walk: a deletion is refused anyway, but
    a re-added file is then still compared with what it replaces (defence in depth)."""
    last = ""
    for sha, change in changes:
        if change.status == "A" and last:
            change = change._replace(status="M", old_oid=last)
        last = change.old_oid if change.status == "D" else change.new_oid
        yield sha, change


class _TooMany(UsageError):
    pass


def problems(old: Chunks | None, new: Chunks, max_line: int, max_rows: int = 1 << 62
             ) -> list[str]:
    """Why `new` breaks the stability of `old`: an item moved, removed, or in two splits; a
    file of more than `max_rows` rows is not read further (memory grows by the row)."""
    import numpy as np

    names = _Names()
    try:
        old_h, old_c = _hashed(old() if old else (), names, max_line, max_rows)
        new_h, new_c = _hashed(new(), names, max_line, max_rows)
    except _TooMany:
        return [f"{ASSIGNMENT} holds more than {max_rows:,} items, over the limit branchml "
                "judges (it was not read further)"]
    except (UsageError, UnicodeDecodeError, csv.Error) as e:
        return [f"{ASSIGNMENT} does not parse: {e}"]
    order = np.argsort(new_h, kind="stable")
    sorted_h = new_h[order]
    repeats = sorted_h[1:][sorted_h[1:] == sorted_h[:-1]]
    old_order = np.argsort(old_h)  # sorted queries: searchsorted walks memory in order
    old_h, old_c = old_h[old_order], old_c[old_order]
    at = np.minimum(np.searchsorted(sorted_h, old_h), max(len(sorted_h) - 1, 0))
    if len(sorted_h):
        wrong = (sorted_h[at] != old_h) | (new_c[order][at] != old_c)
    else:
        wrong = np.ones(len(old_h), dtype=bool)
    total = len(repeats) + int(wrong.sum())
    if not total:
        return []
    # only a few are named, so only their hashes are held as Python ints
    twice = set(np.unique(repeats)[:MAX_SAID].tolist())
    bad = set(np.unique(old_h[wrong])[:MAX_SAID].tolist())
    return _said(old, new, twice, bad, max_line, total)


def _hashed(chunks: Iterable[bytes], names: _Names, max_line: int, max_rows: int
            ) -> tuple[Any, Any]:
    import numpy as np

    hashes: list[Any] = []
    codes: list[Any] = []
    index = names.index
    count = 0
    for keys, splits in blocks(chunks, max_line):
        count += len(keys)
        if count > max_rows:
            raise _TooMany()
        hashes.append(np.array([hash(k) for k in keys], dtype=np.int64))
        codes.append(np.array([index[n] if n in index else names.of(n) for n in splits],
                              dtype=np.uint8))
    if not hashes:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    return np.concatenate(hashes), np.concatenate(codes)


def _said(old: Chunks | None, new: Chunks, twice: set[int], bad: set[int], max_line: int,
          total: int) -> list[str]:
    """The second pass: the keys behind the hashes found wrong, in the files' order."""
    out: list[str] = []
    first: dict[int, str] = {}  # hash -> the split new gives it first
    for key, name in rows(new(), max_line):
        h = hash(key)
        if h in twice and h in first:
            out.append(f"item {key.decode()!r} is in two splits ({first[h]}, {name.decode()})")
        if h in twice or h in bad:
            first.setdefault(h, name.decode())
    for key, name in rows(old() if old else (), max_line):
        h = hash(key)
        if h not in bad:
            continue
        if h not in first:
            out.append(f"item {key.decode()!r} was removed from the split (it was in "
                       f"{name.decode()})")
        elif first[h] != name.decode():
            out.append(f"item {key.decode()!r} moved from {name.decode()} to {first[h]}")
    out = out[:MAX_SAID]
    if total > len(out):
        out.append(f"{total - len(out):,} more items moved, removed or in two splits")
    return out
