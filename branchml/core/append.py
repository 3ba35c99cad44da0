"""The append strategy for row files, on byte streams.

result = ours, then theirs' new rows that ours did not add too, in theirs' order.
- theirs' new rows, and those ours added too, come from `newrows.py`: O(new rows) when base
  is a byte prefix of a side; about 10 bytes of memory per new row of ours.
- repeated rows are a multiset: a row ours added k times and theirs n times is in the result
  max(k, n) times on top of base (theirs' first k copies are left out, the rest written), so
  a second identical event on either side is never lost.
- rows theirs deleted from base are not deleted from ours: append never deletes.
Rows are compared without their terminators; theirs' rows are written with ours' terminator.
Ours is copied into the result on a worker thread while the rows are compared. Never a whole
file in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from branchml.core import native, newrows, rowcheck
from branchml.core.background import BackgroundCopy, Rewindable
from branchml.core.newrows import Source
from branchml.core.rows import BOM, Batch, RowFormat, line_ending
from branchml.errors import ConflictError, UsageError

RowFilter = Callable[[list[bytes], bytes | None], list[bytes]]  # (new rows, header) -> kept


@dataclass
class AppendStats:
    rows_added: int = 0
    rows_on_both: int = 0  # theirs' new rows left out: ours had added them as often
    fast_path: bool = False


def append_rows(fmt: RowFormat, base: Source | None, ours: Source, theirs: Source,
                out: BinaryIO, path: str, row_filter: RowFilter | None = None,
                widen: bool = False,
                computed: Callable[[], Counter[bytes] | None] | None = None) -> AppendStats:
    """Write the append merge of a row file to `out` (the caller stores it). With `widen`,
    a header that only gained columns at its end on one side is widened, and the other
    side's rows get empty fields for them. `computed`, when given, answers `rows_on_both`
    for these sides (computed elsewhere meanwhile; None: not available, computed here)."""
    if computed is None and not native.available():
        # NumPy first: it imports while the sides may still be inflating (git cat-file);
        # beside the copy thread below, the import and the copy would share one core
        from branchml.core import rowhash  # noqa: F401

    head_o, head_t = _head(ours), _head(theirs)
    term = line_ending(head_o) if head_o else line_ending(head_t)
    header, pad_ours, pad_theirs = _headers(fmt, head_o, head_t, path, widen)
    stats = AppendStats()
    d, extra = fmt.delimiter, len(pad_ours)
    # with columns widened on theirs, its rows are matched on ours' columns (an old row
    # that only gained a value there is not new)
    key = (lambda r: r.rsplit(d, extra)[0]) if extra else None
    # ours is the result's start: written on a worker thread while the rows are compared,
    # so the writer's work on it (SHA-256, deflate) runs on the other core
    copy = None if pad_ours else BackgroundCopy(ours, out)
    try:
        theirs_new, stats.fast_path, tail = newrows.theirs_new(fmt, base, theirs, key)
        if copy is not None:  # theirs' new bytes are likely the rest: copied on, then checked
            copy.then(None if row_filter or pad_theirs or fmt is RowFormat.JSONL else tail)
        found = computed() if computed is not None and key is None else None
        both = found if found is not None else newrows.both(fmt, base, ours, theirs_new, key)
    except BaseException:
        if copy is not None:
            copy.cancel()
        raise
    if copy is None:
        last = _copy_widened(fmt, ours, out, header or b"", pad_ours, term)
    else:
        last = copy.result() or b"\n"
    ends_open = bool(head_o) and last != b"\n"
    if not head_o and header is not None:
        out.write(header + term)
    plain = not (both or row_filter or pad_theirs) and fmt is not RowFormat.JSONL
    if copy is not None and copy.continued:
        as_is = _rows_as_is(fmt, theirs_new(), header, term) if plain else None
        if as_is is not None:
            stats.rows_added = as_is
            return stats
        assert isinstance(out, Rewindable)  # the copy only goes on for a Rewindable
        out.rewind()
    for b in theirs_new():
        raw = b.raw
        as_is = rowcheck.rows_as_is(fmt, raw, header, term) if plain and raw else None
        if raw and as_is is not None:
            if ends_open:
                out.write(term)
                ends_open = False
            out.write(raw)  # checked on its bytes, never split into rows
            stats.rows_added += as_is
            continue
        batch = b.rows
        columns = _first_record(head_t) if pad_theirs else header
        if row_filter is not None and batch:
            # --validate: bad rows are dropped (and reported) before the strict check, which
            # would stop the whole pull at the first one
            kept = row_filter(batch, columns)
            if len(kept) != len(batch):
                batch, raw = kept, None
        rows = rowcheck.valid(fmt, batch, columns, path, raw)
        if both:
            valid = len(rows)
            rows = _left_out(rows, both, key)
            stats.rows_on_both += valid - len(rows)
        if pad_theirs:
            rows = [r + pad_theirs for r in rows]
        if rows:
            if ends_open:
                out.write(term)
                ends_open = False
            if raw is not None and rows is batch and rowcheck.terminated_by(raw, term, len(rows)):
                out.write(raw)
            else:
                out.write(term.join(rows) + term)
            stats.rows_added += len(rows)
    return stats


def _left_out(rows: list[bytes], both: Counter[bytes], key: Callable[[bytes], bytes] | None,
              ) -> list[bytes]:
    """Theirs' rows without the copies ours added too: each row in `both` is left out as many
    times as ours added it (counted down across batches, gone at zero), later copies are
    written. Batches hold ~10,000 rows and rows on both sides are few: the rows are scanned
    in C (isdisjoint, a comprehension) and the batch is cut around the rows left out."""
    keys = rows if key is None else [key(r) for r in rows]
    if both.keys().isdisjoint(keys):
        return rows
    kept: list[bytes] = []
    at = 0
    for i in [i for i, k in enumerate(keys) if k in both]:
        k = keys[i]
        if k not in both:  # its count reached zero earlier in this batch
            continue
        both[k] -= 1
        if not both[k]:
            del both[k]
        kept += rows[at:i]
        at = i + 1
    return kept + rows[at:]


def _rows_as_is(fmt: RowFormat, batches: Iterable[Batch], header: bytes | None,
                term: bytes) -> int | None:
    """How many rows theirs added, when every batch of them is written as read (so the
    result is ours then those bytes); None when one is not."""
    rows = 0
    for b in batches:
        as_is = rowcheck.rows_as_is(fmt, b.raw, header, term) if b.raw else None
        if as_is is None:
            return None
        rows += as_is
    return rows


def _head(src: Source) -> bytes:
    with src() as f:
        return f.read(64 * 1024)


def _first_record(head: bytes) -> bytes:
    line = head.split(b"\n", 1)[0]
    return line.removeprefix(BOM).removesuffix(b"\r")


def _headers(fmt: RowFormat, head_o: bytes, head_t: bytes, path: str,
             widen: bool) -> tuple[bytes | None, bytes, bytes]:
    """(result header, padding for ours' rows, padding for theirs' rows)."""
    if not fmt.has_header:
        return None, b"", b""
    ho, ht = _first_record(head_o), _first_record(head_t)
    d = fmt.delimiter
    if head_o and head_t and ho != ht and widen and b'"' not in ho + ht:
        if ht.startswith(ho + d):
            return ht, d * (ht.count(d) - ho.count(d)), b""
        if ho.startswith(ht + d):
            return ho, b"", d * (ho.count(d) - ht.count(d))
    if head_o and head_t and ho != ht:
        hint = "" if widen else " (or allow new columns with `widen_columns: true`)"
        raise ConflictError(
            f"{path}: the header differs between ours ({ho.decode(errors='replace')}) and "
            f"theirs ({ht.decode(errors='replace')}); make the columns equal on both "
            f"branches{hint}, then merge again."
        )
    header = ho or ht
    if rowcheck.fields(fmt, header) < 0:
        raise UsageError(f"{path}: the header {header[:80].decode(errors='replace')!r} is not "
                         f"valid {fmt.value.upper()}; fix it on its branch, then merge again.")
    return header, b"", b""


def _copy_widened(fmt: RowFormat, ours: Source, out: BinaryIO, header: bytes, pad: bytes,
                  term: bytes) -> bytes:
    """Ours rewritten under the wider header, each row padded with empty fields."""
    with ours() as src:
        head = src.read(3)
        out.write(BOM if head == BOM else b"")
    out.write(header + term)
    for rows in _all_rows(fmt, ours):
        if rows:
            out.write(term.join(r + pad for r in rows) + term)
    return term[-1:]


def _all_rows(fmt: RowFormat, src: Source) -> Iterator[list[bytes]]:
    for batch in newrows.all_blocks(fmt, src):
        yield batch.rows
