"""A split assignment read in memory that grows by 9 bytes a row, for `split rows` and the
leakage guard: the assignment (`key,split` rows) comes from whoever pushed to split, and may
hold millions of items (the checker lets 4,000,000 rows and 256 MiB through), so it is read as
a stream of chunks by the checker's reading (core/splitcheck.py) and each row is kept as a
64-bit hash of its key and the index of its split name, never as Python strings (and, for
the vectorised selection of core/keyspans.py, its key's row hash: 17 bytes a row then).

Python's `hash` of bytes is keyed by a secret drawn for each process, so a pusher cannot pick
keys that collide; a collision by chance among n keys has odds n^2 / 2^65 (one row of another
split written, or one overlap counted).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from branchml.core import splitcheck
from branchml.core.split import ASSIGNMENT
from branchml.errors import UsageError


class _TooMany(UsageError):
    pass


def key_hash(key: str) -> int:
    """The hash an assignment row's key is kept as (its UTF-8 bytes, as the rows are read)."""
    return hash(key.encode("utf-8"))


@dataclass
class Hashed:
    """An assignment as read: the sha256 of its bytes, and per row its key's hash and the
    index of its split name in `names`."""

    digest: str
    keys: Any  # numpy int64 array
    splits: Any  # numpy uint8 array
    names: list[str]
    row_keys: Any = None  # with `read_hashed(row_keys=True)`: each key's row hash (keyspans)

    def chosen(self, names: Iterable[str]) -> Any:
        """The sorted, distinct key hashes of the items these split names hold."""
        return _distinct(self.keys[_in(self.splits, self._codes(names))])

    def _codes(self, names: Iterable[str]) -> list[int]:
        wanted = set(names)
        return [code for code, name in enumerate(self.names) if name in wanted]

    def chosen_rows(self, names: Iterable[str]) -> Any:
        """`chosen` by the keys' row hashes (read with `row_keys`)."""
        assert self.row_keys is not None
        return _distinct(self.row_keys[_in(self.splits, self._codes(names))])

    def row_codes(self) -> tuple[Any, Any] | None:
        """(the keys' row hashes sorted, each key's split code in that order); None when a
        key is in the assignment twice (its rows would count in each of its splits)."""
        import numpy as np

        assert self.row_keys is not None
        order = np.argsort(self.row_keys, kind="stable")
        keys = self.row_keys[order]
        if len(keys) > 1 and (keys[1:] == keys[:-1]).any():
            return None
        return keys, self.splits[order]


def _in(splits: Any, codes: list[int]) -> Any:
    import numpy as np

    mask = np.zeros(len(splits), dtype=bool)  # one mask, not one per split name
    for code in codes:
        mask |= splits == code
    return mask


def _distinct(picked: Any) -> Any:
    """The hashes sorted in place, each once."""
    import numpy as np

    picked.sort()  # in place: np.unique and np.isin would hold several copies at once
    if len(picked) < 2:
        return picked
    return picked[np.concatenate(([True], picked[1:] != picked[:-1]))]


def read_hashed(chunks: Iterable[bytes], max_line: int, max_rows: int,
                row_keys: bool = False) -> Hashed:
    """The assignment of `chunks`, hashed (with `row_keys`, each key's row hash too: 8 more
    bytes a row); UsageError (one sentence) when it does not parse or holds more than
    `max_rows` rows (not read further)."""
    import numpy as np

    from branchml.core.rowstream import hash_list

    digest = hashlib.sha256()
    keys: list[Any] = []
    splits: list[Any] = []
    rows: list[Any] = []
    index: dict[bytes, int] = {}
    count = 0
    try:
        for key_block, name_block in splitcheck.blocks(_digested(chunks, digest), max_line):
            count += len(key_block)
            if count > max_rows:
                raise _TooMany(f"{ASSIGNMENT} holds more than {max_rows:,} items, over the "
                                 "limit branchml reads (it was not read further); split the "
                                 "items over fewer keys.")
            keys.append(np.fromiter(map(hash, key_block), dtype=np.int64, count=len(key_block)))
            splits.append(_codes(index, name_block))
            if row_keys:
                rows.append(hash_list(key_block))
    except _TooMany:
        raise
    except (UsageError, UnicodeDecodeError, csv.Error) as e:
        raise UsageError(f"{ASSIGNMENT} does not parse ({e}); restore it from an earlier "
                         "commit of split.") from None
    names = [n.decode("utf-8") for n in index]
    if not keys:
        empty = np.zeros(0, np.int64)
        return Hashed(digest.hexdigest(), empty, np.zeros(0, np.uint8), names,
                      empty if row_keys else None)
    return Hashed(digest.hexdigest(), np.concatenate(keys), np.concatenate(splits), names,
                  np.concatenate(rows) if row_keys else None)


def _codes(index: dict[bytes, int], names: list[bytes]) -> Any:
    """The split code of each name: one dict lookup each once the names are known (millions
    of rows, a few names)."""
    import numpy as np

    found = list(map(index.get, names))
    if None in found:
        found = [_code(index, n) for n in names]
    return np.array(found, dtype=np.uint8)


def _code(index: dict[bytes, int], name: bytes) -> int:
    found = index.get(name)
    if found is None:
        if len(index) >= 255:
            raise UsageError(f"{ASSIGNMENT} names more than 255 different splits; restore it "
                             "from an earlier commit of split.")
        found = index[name] = len(index)
    return found


def _digested(chunks: Iterable[bytes], digest: Any) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def found_in(chosen: Any, hashes: list[int]) -> Any:
    """For each hash, its index in the sorted `chosen`, or -1 when it is not there."""
    import numpy as np

    h = np.array(hashes, dtype=np.int64)
    if not len(chosen):
        return np.full(len(h), -1)
    at = np.minimum(np.searchsorted(chosen, h), len(chosen) - 1)
    return np.where(chosen[at] == h, at, -1)


def overlap(training: Hashed, names: Iterable[str], test: Hashed, held_out: str) -> int:
    """How many items `training` puts in `names` that `test` puts in its held-out split."""
    import numpy as np

    return len(np.intersect1d(training.chosen(names), test.chosen([held_out]),
                                  assume_unique=True))
