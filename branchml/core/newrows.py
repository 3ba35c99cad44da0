"""Each side's new rows (what it added after base), and which of theirs' ours added too: the
row comparison behind the append strategy (`append.py`).

- new rows: when base is a byte prefix of the side (append-only data, the usual case),
  exactly the rows after base: O(new rows), never reading base's rows. Otherwise the side's
  rows minus base's rows, as a multiset (a row the side has one more time than base is new).
- rows on both sides: ours' new rows are hashed (`native`, in C; NumPy's `rowhash` where
  the C library is not built, with the same values), theirs' new rows are probed against
  them, and a row whose hash is shared is confirmed byte for byte before it counts. They
  are counted (a multiset): ours adding a row twice covers two of theirs' copies of it.
Memory: about 10 bytes per new row of ours, never a whole file.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import compress
from typing import Any, BinaryIO

from branchml.core import native
from branchml.core.rows import CHUNK, Batch, RowFormat, record_blocks

Source = Callable[[], BinaryIO]  # opens a fresh stream of one side's bytes
RowKey = Callable[[bytes], bytes]  # what a row is compared by


def rows_on_both(fmt: RowFormat, base: Source | None, ours: Source,
                 theirs: Source) -> Counter[bytes]:
    """The rows ours added that theirs added too, with how many times ours added each (so
    many of theirs' copies are left out by `append_rows`), for sides whose headers are the
    same: what a helper process computes for it (`rowworker`)."""
    return both(fmt, base, ours, theirs_new(fmt, base, theirs)[0], None)


def both(fmt: RowFormat, base: Source | None, ours: Source,
         theirs_new: Callable[[], Iterator[Batch]], key: RowKey | None) -> Counter[bytes]:
    """The rows ours added that are among theirs' new rows (compared by `key`), each with
    the number of times ours added it: found by hash, then confirmed byte for byte."""
    if native.available():
        return _both_native(fmt, base, ours, theirs_new, key)
    ours_new = _new_row_hashes(fmt, base, ours)
    return _ours_rows_among(fmt, base, ours, _shared(ours_new, theirs_new(), fmt, key))


def _both_native(fmt: RowFormat, base: Source | None, ours: Source,
                 theirs_new: Callable[[], Iterator[Batch]], key: RowKey | None) -> Counter[bytes]:
    """`both` with the C row hashes (`native`): the same rows, and NumPy is not imported."""
    ours_new = array("Q")
    for b in _new_blocks(fmt, base, ours):
        ours_new.extend(_native_hashes(b, None))
    shared = native.shared(ours_new, (_native_hashes(b, key) for b in theirs_new()))
    del ours_new
    found: Counter[bytes] = Counter()
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


def all_blocks(fmt: RowFormat, src: Source) -> Iterator[Batch]:
    with src() as f:
        first = fmt.has_header
        for batch in record_blocks(f, fmt.has_header):
            if first:
                batch, first = Batch(None, batch.rows[1:]), False
            yield batch


def _hashes(blocks: Iterable[Batch], fmt: RowFormat, key: RowKey | None = None) -> Any:
    """Row hashes of record batches, in order (from the raw bytes when they can be used)."""
    import numpy as np

    parts = [_batch_hashes(b, fmt, key) for b in blocks if (b.raw if b.raw is not None else b.rows)]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _batch_hashes(b: Batch, fmt: RowFormat, key: RowKey | None) -> Any:
    from branchml.core import rowhash

    if native.available():  # the same values, in time linear in the bytes: NumPy's loop
        import numpy as np  # takes a step per 8 bytes of a batch's longest row (atk18b-07)

        return np.frombuffer(_native_hashes(b, key), dtype=np.int64)
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
                     hashes: Any) -> Counter[bytes]:
    """Ours' new rows whose hash is in `hashes` (sorted), as bytes with their counts: the
    exact check of rows both sides added. Empty, and nothing read, when no hash is shared."""
    from branchml.core import rowhash

    if not len(hashes):
        return Counter()
    found: Counter[bytes] = Counter()
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


def theirs_new(fmt: RowFormat, base: Source | None, theirs: Source,
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
    mask = _new_mask(_hashes(all_blocks(fmt, side), fmt, key),
                     np.sort(_hashes(all_blocks(fmt, base), fmt)))

    def rows() -> Iterator[Batch]:
        at = 0
        for b in all_blocks(fmt, side):
            batch = b.rows
            keep = mask[at:at + len(batch)]
            at += len(batch)
            yield Batch(None, [row for row, k in zip(batch, keep, strict=True) if k])
    return rows
