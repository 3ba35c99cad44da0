"""Removals carried by a pull: which rows a side removed, and a file without them. Pure.

"Cleaning reaches training" (docs/data-moves.md): a pull out of a branch that removes rows
(clean, split) removes from the destination the rows the source removed since the last pull
and the destination still holds as they were. The pull, the merge driver and the checker's
proof all call these two functions, so the three read one definition of a removal:

- `removed_rows(before, after)`: the rows of `before` that `after` holds fewer times (a
  multiset difference), found by the append strategy's row hashes (`newrows`) and kept as
  bytes. When `before` is a byte prefix of `after` nothing was removed and no row is read.
- `drop_rows(src, rows, out)`: `src` written to `out` without those rows, the first copies
  first (a destination's own copies of a row come after the base's, at its end), each copy
  at most as many times as it is listed; the header and the rows kept are written as read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import BinaryIO

from branchml.core import newrows
from branchml.core.rows import RowFormat, line_ending, record_blocks

Source = Callable[[], BinaryIO]


def removed_rows(fmt: RowFormat, before: Source, after: Source | None) -> Counter[bytes]:
    """The rows `before` holds more times than `after` (None: the file is gone, every row
    of `before` was removed), each with how many of its copies went."""
    if after is not None and newrows._prefix_end(fmt, before, after) is not None:
        return Counter()  # only grew: the usual case, decided on bytes alone
    if after is None:
        found: Counter[bytes] = Counter()
        for b in newrows.all_blocks(fmt, before):
            found.update(b.rows)
        return found
    import numpy as np

    mask = newrows._new_mask(newrows._hashes(newrows.all_blocks(fmt, before), fmt),
                             np.sort(newrows._hashes(newrows.all_blocks(fmt, after), fmt)))
    gone: Counter[bytes] = Counter()
    at = 0
    for b in newrows.all_blocks(fmt, before):
        rows = b.rows
        keep = mask[at:at + len(rows)]
        at += len(rows)
        if keep.any():
            gone.update(r for r, k in zip(rows, keep.tolist(), strict=True) if k)
    return gone


def drop_rows(fmt: RowFormat, src: Source, rows: Counter[bytes], out: BinaryIO) -> int:
    """Write `src` without `rows` (the first copies of each, as many as counted) to `out`;
    how many rows were left out. A batch holding none of them is copied as read."""
    left = Counter(rows)
    with src() as f:
        term = line_ending(f.read(64 * 1024))
    dropped = 0
    header = fmt.has_header
    with src() as f:
        for batch in record_blocks(f, fmt.has_header):
            records = batch.rows
            if header and records:
                out.write(records[0] + term)
                records, header = records[1:], False
            elif batch.raw is not None and (not left or left.keys().isdisjoint(records)):
                out.write(batch.raw)
                continue
            kept = []
            for r in records:
                if left.get(r):
                    left[r] -= 1
                    dropped += 1
                else:
                    kept.append(r)
            if kept:
                out.write(term.join(kept) + term)
    return dropped

