"""The append strategy for row files, on byte streams.

result = ours, then theirs' new rows that ours did not add too, in theirs' order.
- theirs' new rows: when base is a byte prefix of theirs (append-only data, the usual case),
  exactly the rows after base: O(new rows), never reading base's rows. Otherwise theirs' rows
  minus base's rows, as a multiset (a row theirs has one more time than base is new).
- ours' new rows, the same way; a theirs-new row that ours also added is written once.
- rows theirs deleted from base are not deleted from ours: append never deletes.
Rows are compared without their terminators; theirs' rows are written with ours' terminator.
Memory: about 10 bytes per new row of ours (row hashes, in C or in NumPy: see native.py),
never a whole file.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import compress
from typing import Any, BinaryIO

from branchml.core import native, rowcheck
from branchml.core.background import BackgroundCopy, Rewindable
from branchml.core.rows import BOM, CHUNK, Batch, RowFormat, line_ending, record_blocks
from branchml.errors import ConflictError

Source = Callable[[], BinaryIO]  # opens a fresh stream of one side's bytes
RowFilter = Callable[[list[bytes], bytes | None], list[bytes]]  # (new rows, header) -> kept
RowKey = Callable[[bytes], bytes]  # what a row is compared by


@dataclass
class AppendStats:
    rows_added: int = 0
    rows_on_both: int = 0  # theirs' new rows ours had added too (written once)
    fast_path: bool = False


def append_rows(fmt: RowFormat, base: Source | None, ours: Source, theirs: Source,
                out: BinaryIO, path: str, row_filter: RowFilter | None = None,
                widen: bool = False,
                computed: Callable[[], set[bytes] | None] | None = None) -> AppendStats:
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
        theirs_new, stats.fast_path, tail = _theirs_new(fmt, base, theirs, key)
        if copy is not None:  # theirs' new bytes are likely the rest: copied on, then checked
            copy.then(None if row_filter or pad_theirs or fmt is RowFormat.JSONL else tail)
        found = computed() if computed is not None and key is None else None
        both = found if found is not None else _both(fmt, base, ours, theirs_new, key)
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
        rows = rowcheck.valid(fmt, batch, columns, path, b.raw)
        if both:
            valid = len(rows)
            rows = [r for r in rows if (key(r) if key else r) not in both]
            stats.rows_on_both += valid - len(rows)
        if row_filter is not None and rows:
            rows = row_filter(rows, header)
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


def rows_on_both(fmt: RowFormat, base: Source | None, ours: Source,
                 theirs: Source) -> set[bytes]:
    """The rows ours added that theirs added too (written once by `append_rows`), for sides
    whose headers are the same: what a helper process computes for it (`rowworker`)."""
    return _both(fmt, base, ours, _theirs_new(fmt, base, theirs)[0], None)


def _both(fmt: RowFormat, base: Source | None, ours: Source,
          theirs_new: Callable[[], Iterator[Batch]], key: RowKey | None) -> set[bytes]:
    """The rows ours added that are among theirs' new rows (compared by `key`): found by
    hash, then confirmed byte for byte."""
    if native.available():
        return _both_native(fmt, base, ours, theirs_new, key)
    ours_new = _new_row_hashes(fmt, base, ours)
    return _ours_rows_among(fmt, base, ours, _shared(ours_new, theirs_new(), fmt, key))


def _both_native(fmt: RowFormat, base: Source | None, ours: Source,
                 theirs_new: Callable[[], Iterator[Batch]], key: RowKey | None) -> set[bytes]:
    """`_both` with the C row hashes (`native`): the same rows, and NumPy is not imported."""
    ours_new = array("Q")
    for b in _new_blocks(fmt, base, ours):
        ours_new.extend(_native_hashes(b, None))
    shared = native.shared(ours_new, (_native_hashes(b, key) for b in theirs_new()))
    del ours_new
    found: set[bytes] = set()
    if len(shared):
        for b in _new_blocks(fmt, base, ours):
            hit = shared.hits(_native_hashes(b, None))
            if hit is not None:
                found.update(compress(b.rows, hit))
    return found


def _native_hashes(b: Batch, key: RowKey | None) -> array[int]:
    if key is None and b.raw is not None:
        return native.hash_lines(b.raw)  # raw bytes: records are exactly its lines
    return native.hash_rows(list(map(key, b.rows)) if key else b.rows)


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
    return ho or ht, b"", b""


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


def _prefix_end(fmt: RowFormat, base: Source | None, side: Source) -> int | None:
    """Where `side`'s new bytes start, when base is a byte prefix of side that ends between
    records; else None."""
    if base is None:
        return 0
    with side() as stream:
        quotes, last, size = 0, b"\n", 0
        with base() as b:
            while chunk := b.read(CHUNK):
                if stream.read(len(chunk)) != chunk:
                    return None
                if fmt.has_header and b'"' in chunk:
                    quotes += chunk.count(b'"')
                last = chunk[-1:]
                size += len(chunk)
    return size if last == b"\n" and not quotes % 2 else None


def _tail_after_prefix(fmt: RowFormat, base: Source | None, side: Source) -> BinaryIO | None:
    """`side`'s stream positioned after base, when base is a byte prefix of it (see above)."""
    offset = _prefix_end(fmt, base, side)
    if offset is None:
        return None
    stream = side()
    _skip(stream, offset)
    return stream


def _skip(stream: BinaryIO, offset: int) -> None:
    if not offset:
        return
    if stream.seekable():
        stream.seek(offset)
        return
    while offset and (chunk := stream.read(min(offset, CHUNK))):
        offset -= len(chunk)


def _blocks_after(fmt: RowFormat, base: Source | None, tail: BinaryIO) -> Iterator[Batch]:
    """(raw bytes or None, records) batches of a tail; the header is skipped when the tail
    starts the file."""
    skip_header = fmt.has_header and (base is None or _is_empty(base))
    with tail:
        for batch in record_blocks(tail, fmt.has_header):
            if skip_header:
                batch, skip_header = Batch(None, batch.rows[1:]), False
            yield batch


def _is_empty(src: Source) -> bool:
    with src() as f:
        return not f.read(1)


def _all_blocks(fmt: RowFormat, src: Source) -> Iterator[Batch]:
    with src() as f:
        first = fmt.has_header
        for batch in record_blocks(f, fmt.has_header):
            if first:
                batch, first = Batch(None, batch.rows[1:]), False
            yield batch


def _all_rows(fmt: RowFormat, src: Source) -> Iterator[list[bytes]]:
    for batch in _all_blocks(fmt, src):
        yield batch.rows


def _hashes(blocks: Iterable[Batch], fmt: RowFormat, key: RowKey | None = None) -> Any:
    """Row hashes of record batches, in order (from the raw bytes when they can be used)."""
    import numpy as np

    parts = [_batch_hashes(b, fmt, key) for b in blocks if (b.raw if b.raw is not None else b.rows)]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _batch_hashes(b: Batch, fmt: RowFormat, key: RowKey | None) -> Any:
    from branchml.core import rowhash

    if key is None and b.raw is not None:
        return rowhash.hash_lines(b.raw)  # raw bytes: records are exactly its lines
    return rowhash.hash_rows(list(map(key, b.rows)) if key else b.rows)


def _shared(ours_new: Any, blocks: Iterator[Batch], fmt: RowFormat,
            key: RowKey | None) -> Any:
    """The sorted hashes of theirs' new rows that ours' new rows have too (batch by batch:
    only the shared ones are kept, usually none)."""
    import numpy as np

    from branchml.core import rowhash

    if not len(ours_new):
        return ours_new
    known = rowhash.HashSet(ours_new)
    shared = []
    for b in blocks:
        if b.raw if b.raw is not None else b.rows:
            found = _batch_hashes(b, fmt, key)
            hit = found[known.contains(found)]
            if len(hit):
                shared.append(hit)
    return np.unique(np.concatenate(shared)) if shared else rowhash.EMPTY


def _ours_rows_among(fmt: RowFormat, base: Source | None, ours: Source,
                     hashes: Any) -> set[bytes]:
    """Ours' new rows whose hash is in `hashes` (sorted), as bytes: the exact check of rows
    both sides added. Empty, and nothing read, when no hash is shared."""
    from branchml.core import rowhash

    if not len(hashes):
        return set()
    found: set[bytes] = set()
    for b in _new_blocks(fmt, base, ours):
        hit = rowhash.member(_batch_hashes(b, fmt, None), hashes)
        if hit.any():
            found.update(r for r, h in zip(b.rows, hit.tolist(), strict=True) if h)
    return found


def _new_mask(side: Any, base_sorted: Any) -> Any:
    """Multiset difference as a mask over `side`: the k-th occurrence of a row is new when
    base holds that row fewer than k times."""
    import numpy as np

    order = np.argsort(side, kind="stable")
    s = side[order]
    rank = np.arange(len(s)) - np.searchsorted(s, s, "left")
    in_base = np.searchsorted(base_sorted, s, "right") - np.searchsorted(base_sorted, s, "left")
    mask = np.empty(len(s), dtype=bool)
    mask[order] = rank >= in_base
    return mask


def _new_blocks(fmt: RowFormat, base: Source | None, side: Source) -> Iterator[Batch]:
    """`side`'s new rows in batches: the tail after base when base is its byte prefix, else
    its rows minus base's rows (as a multiset)."""
    tail = _tail_after_prefix(fmt, base, side)
    if tail is not None:
        yield from _blocks_after(fmt, base, tail)
    else:
        yield from _masked(fmt, base, side, None)()


def _new_row_hashes(fmt: RowFormat, base: Source | None, side: Source) -> Any:
    found = _hashes(_new_blocks(fmt, base, side), fmt)
    found.sort()  # in place: no second copy
    return found


def _theirs_new(fmt: RowFormat, base: Source | None, theirs: Source,
                key: RowKey | None = None) -> tuple[Callable[[], Iterator[Batch]], bool,
                                                    Source | None]:
    """A way to read theirs' new rows (twice: once to find rows ours added too, once to
    write them), whether base was a byte prefix of theirs, and then theirs' bytes after base
    (None when base is not its prefix, or is empty: the tail then holds the header)."""
    offset = _prefix_end(fmt, base, theirs)
    if offset is not None:
        def stream() -> BinaryIO:
            s = theirs()
            _skip(s, offset)
            return s

        def tail() -> Iterator[Batch]:  # opened when first read: a tail never read stays shut
            yield from _blocks_after(fmt, base, stream())
        return tail, True, (stream if offset else None)
    return _masked(fmt, base, theirs, key), False, None


def _masked(fmt: RowFormat, base: Source | None, side: Source,
            key: RowKey | None) -> Callable[[], Iterator[Batch]]:
    import numpy as np

    assert base is not None
    mask = _new_mask(_hashes(_all_blocks(fmt, side), fmt, key),
                     np.sort(_hashes(_all_blocks(fmt, base), fmt)))

    def rows() -> Iterator[Batch]:
        at = 0
        for b in _all_blocks(fmt, side):
            batch = b.rows
            keep = mask[at:at + len(batch)]
            at += len(batch)
            yield Batch(None, [row for row, k in zip(batch, keep, strict=True) if k])
    return rows
