"""The append strategy for row files, on byte streams.

result = ours, then theirs' new rows that ours did not add too, in theirs' order.
- theirs' new rows: when base is a byte prefix of theirs (append-only data, the usual case),
  exactly the rows after base: O(new rows), never reading base's rows. Otherwise theirs' rows
  minus base's rows, as a multiset (a row theirs has one more time than base is new).
- ours' new rows, the same way; a theirs-new row that ours also added is written once.
- rows theirs deleted from base are not deleted from ours: append never deletes.
Rows are compared without their terminators; theirs' rows are written with ours' terminator.
Memory: 8 bytes per new row (row hashes in NumPy arrays), never a whole file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from branchml.core.rows import BOM, CHUNK, RowFormat, line_ending, record_batches
from branchml.errors import ConflictError, UsageError

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
                widen: bool = False) -> AppendStats:
    """Write the append merge of a row file to `out` (the caller stores it). With `widen`,
    a header that only gained columns at its end on one side is widened, and the other
    side's rows get empty fields for them."""
    head_o, head_t = _head(ours), _head(theirs)
    term = line_ending(head_o) if head_o else line_ending(head_t)
    header, pad_ours, pad_theirs = _headers(fmt, head_o, head_t, path, widen)
    stats = AppendStats()
    ours_new = _new_row_hashes(fmt, base, ours)
    # theirs widened: its rows are matched on ours' columns (an old row that only gained a
    # value in a new column is not a new row)
    d, extra = fmt.delimiter, len(pad_ours)
    key = (lambda r: r.rsplit(d, extra)[0]) if extra else None
    t_batches, stats.fast_path = _theirs_new(fmt, base, theirs, key)
    last = b"\n"
    if pad_ours:
        last = _copy_widened(fmt, ours, out, header or b"", pad_ours, term)
    else:
        with ours() as src:
            while chunk := src.read(CHUNK):
                out.write(chunk)
                last = chunk[-1:]
    ends_open = bool(head_o) and last != b"\n"
    if not head_o and header is not None:
        out.write(header + term)
    for batch in t_batches:
        rows = _valid(fmt, batch, _first_record(head_t) if pad_theirs else header, path)
        if row_filter is not None and rows:
            rows = row_filter(rows, header)
        if pad_theirs:
            rows = [r + pad_theirs for r in rows]
        if not rows:
            continue
        kept = _drop_known(rows, ours_new, key)
        stats.rows_on_both += len(rows) - len(kept)
        if kept:
            if ends_open:
                out.write(term)
                ends_open = False
            out.write(term.join(kept) + term)
            stats.rows_added += len(kept)
    return stats


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


def _tail_after_prefix(fmt: RowFormat, base: Source | None, side: Source) -> BinaryIO | None:
    """`side`'s stream positioned after base, when base is a byte prefix of side that ends
    between records; else None."""
    stream = side()
    if base is None:
        return stream
    quotes, last = 0, b"\n"
    with base() as b:
        while chunk := b.read(CHUNK):
            if stream.read(len(chunk)) != chunk:
                stream.close()
                return None
            quotes += chunk.count(b'"') if fmt.has_header else 0
            last = chunk[-1:]
    if last != b"\n" or quotes % 2:
        stream.close()
        return None
    return stream


def _batches_after(fmt: RowFormat, base: Source | None, side: Source,
                   tail: BinaryIO) -> Iterator[list[bytes]]:
    """Record batches of a tail; the header is skipped when the tail starts the file."""
    skip_header = fmt.has_header and (base is None or _is_empty(base))
    with tail:
        for batch in record_batches(tail, fmt.has_header):
            if skip_header:
                batch, skip_header = batch[1:], False
            yield batch


def _is_empty(src: Source) -> bool:
    with src() as f:
        return not f.read(1)


def _all_rows(fmt: RowFormat, src: Source) -> Iterator[list[bytes]]:
    with src() as f:
        first = fmt.has_header
        for batch in record_batches(f, fmt.has_header):
            if first:
                batch, first = batch[1:], False
            yield batch


def _hashes(batches: Iterator[list[bytes]], key: RowKey | None = None) -> Any:
    import numpy as np

    parts = [np.fromiter(map(hash, map(key, b) if key else b), dtype=np.int64, count=len(b))
             for b in batches if b]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


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


def _new_row_hashes(fmt: RowFormat, base: Source | None, side: Source) -> Any:
    import numpy as np

    tail = _tail_after_prefix(fmt, base, side)
    if tail is not None:
        found = _hashes(_batches_after(fmt, base, side, tail))
    else:
        assert base is not None
        all_side = _hashes(_all_rows(fmt, side))
        found = all_side[_new_mask(all_side, np.sort(_hashes(_all_rows(fmt, base))))]
    found.sort()  # in place: no second copy
    return found


def _theirs_new(fmt: RowFormat, base: Source | None, theirs: Source,
                key: RowKey | None = None) -> tuple[Iterator[list[bytes]], bool]:
    tail = _tail_after_prefix(fmt, base, theirs)
    if tail is not None:
        return _batches_after(fmt, base, theirs, tail), True
    return _masked(fmt, base, theirs, key), False


def _masked(fmt: RowFormat, base: Source | None, theirs: Source,
            key: RowKey | None) -> Iterator[list[bytes]]:
    import numpy as np

    assert base is not None
    mask = _new_mask(_hashes(_all_rows(fmt, theirs), key),
                     np.sort(_hashes(_all_rows(fmt, base))))
    at = 0
    for batch in _all_rows(fmt, theirs):
        keep = mask[at:at + len(batch)]
        at += len(batch)
        yield [row for row, k in zip(batch, keep, strict=True) if k]


def _drop_known(rows: list[bytes], known_sorted: Any, key: RowKey | None = None) -> list[bytes]:
    if not len(known_sorted):
        return rows
    import numpy as np

    h = np.fromiter(map(hash, map(key, rows) if key else rows), dtype=np.int64,
                    count=len(rows))
    order = np.argsort(h)
    hs = h[order]  # sorted probes walk the sorted array in order: cache-friendly
    pos = np.searchsorted(known_sorted, hs)
    pos[pos == len(known_sorted)] = 0
    hit = np.empty(len(h), dtype=bool)
    hit[order] = known_sorted[pos] == hs
    if not hit.any():
        return rows
    return [r for r, known in zip(rows, hit.tolist(), strict=True) if not known]


def _valid(fmt: RowFormat, batch: list[bytes], header: bytes | None, path: str) -> list[bytes]:
    """Theirs' new rows, checked: UTF-8, and parsable as the format. Blank lines dropped."""
    if fmt is not RowFormat.TEXT and b"" in batch:
        batch = [r for r in batch if r]
    block = b"\n".join(batch)
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
            except ValueError:
                raise UsageError(f"{path}: a new row of theirs is not valid JSON: "
                                 f"{row[:80].decode(errors='replace')!r}.") from None
    return batch


def _fields(fmt: RowFormat, row: bytes) -> int:
    d = fmt.delimiter
    if b'"' not in row:
        return row.count(d) + 1
    parsed = next(csv.reader([row.decode("utf-8")], delimiter=d.decode()), [])
    return len(parsed)


def _check_fields(fmt: RowFormat, batch: list[bytes], block: bytes, header: bytes,
                  path: str) -> None:
    """Every row has the header's field count. Without quotes in the batch: counted with
    NumPy over the joined bytes (delimiters between newlines), no Python loop per row."""
    n, d = _fields(fmt, header), fmt.delimiter
    if b'"' not in block:
        import numpy as np

        arr = np.frombuffer(block, dtype=np.uint8)
        starts = np.concatenate(([0], np.flatnonzero(arr == 10) + 1))
        per_row: Any = np.add.reduceat((arr == d[0]).astype(np.int32), starts) if len(arr) else []
        if len(per_row) == len(batch) and bool(np.all(np.asarray(per_row) == n - 1)):
            return
    for row in batch:
        if (b'"' in row or row.count(d) + 1 != n) and _fields(fmt, row) != n:
            raise UsageError(
                f"{path}: a new row of theirs has {_fields(fmt, row)} fields where the header "
                f"has {n}: {row[:80].decode(errors='replace')!r}; fix the row on its branch."
            )


def append_json_array(base: bytes | None, ours: bytes, theirs: bytes, path: str) -> bytes:
    """A top-level JSON array: ours' items, then theirs' new items (same rule as rows)."""
    def load(data: bytes, side: str) -> list[Any]:
        try:
            value = json.loads(data) if data.strip() else []
        except ValueError:
            raise UsageError(f"{path}: {side} is not valid JSON.") from None
        if not isinstance(value, list):
            raise ConflictError(f"{path}: {side} is not a JSON array; it cannot be appended.")
        return value

    def key(item: Any) -> str:
        return json.dumps(item, sort_keys=True, separators=(",", ":"))

    b, o, t = load(base or b"", "base"), load(ours, "ours"), load(theirs, "theirs")
    bk, ok, tk = [key(x) for x in b], [key(x) for x in o], [key(x) for x in t]
    o_new = {k for k, new in zip(ok, _minus(ok, bk), strict=True) if new}
    added = [x for x, k, new in zip(t, tk, _minus(tk, bk), strict=True) if new and k not in o_new]
    if not added:
        return ours
    merged = o + added
    indent = 2 if b"\n" in ours.strip() else None
    return (json.dumps(merged, indent=indent, ensure_ascii=False) + "\n").encode()


def _minus(side: list[str], base: list[str]) -> list[bool]:
    left: dict[str, int] = {}
    for k in base:
        left[k] = left.get(k, 0) + 1
    out = []
    for k in side:
        if left.get(k, 0):
            left[k] -= 1
            out.append(False)
        else:
            out.append(True)
    return out
