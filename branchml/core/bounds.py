"""How many bytes branchml reads of one object a pusher or a remote chose.

Every object of a push being judged, or of a remote being cloned, was written by someone we do
not trust: its size is asked first (`git cat-file` gives it without reading the object), and an
object over its kind's limit is refused before a byte of it is read, so a few KiB on the wire
(zeros compress) cannot make a hook or a command hold hundreds of MiB.
"""

from __future__ import annotations

from collections.abc import Iterable

from branchml.core.yamlbounds import MAX_BYTES as CONFIG  # branchml.yaml: 64 KiB
from branchml.errors import UsageError

TAG_OBJECT = 4 << 20  # a release tag: its manifest holds params and metrics, and one line per model
TRACKING_JSON = 1 << 20  # tracking/params.json, tracking/metrics.json of a released commit
SPLIT_ASSIGNMENT = 256 << 20  # data/split/assignment.csv: streamed, never held whole ...
SPLIT_ROWS = 4_000_000  # ... but ~70 bytes a row, both files: ~300 MB and ~15 s at most
SPLIT_LINE = 1 << 20  # one row of the assignment (a key is a path or an id, never this long)
# the proof of a carried removal (ops/carrycheck.py) reads four versions of a row file, each
# a few times: each is refused over CARRY_FILE by its size, and over a row of CARRY_LINE bytes
# (a row is hashed and compared whole) by name, in one linear pass before any row is parsed
CARRY_FILE = 1 << 30
CARRY_LINE = 1 << 20

__all__ = ["CARRY_FILE", "CARRY_LINE", "CONFIG", "SPLIT_ASSIGNMENT", "SPLIT_LINE", "SPLIT_ROWS",
           "TAG_OBJECT", "TRACKING_JSON", "TooLarge", "human", "long_line"]


def human(n: int) -> str:
    """1048576 -> "1 MiB" (limits are whole KiB or MiB)."""
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


class TooLarge(UsageError):
    """An object over its limit, found by its size alone (nothing of it was read)."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        self.what, self.size, self.limit = what, size, limit
        super().__init__(f"{what} holds {size:,} bytes, over the limit of {limit:,} bytes "
                         f"({human(limit)}) branchml reads of it; it was not read.")


def long_line(chunks: Iterable[bytes], limit: int) -> int | None:
    """The number (from 1) of the first line of `chunks` longer than `limit` bytes, or None:
    one pass, each byte looked at once, nothing kept but a count."""
    line, run = 1, 0
    for chunk in chunks:
        start = 0
        while (nl := chunk.find(b"\n", start)) >= 0:
            if run + nl - start > limit:
                return line
            line, run, start = line + 1, 0, nl + 1
        run += len(chunk) - start
        if run > limit:
            return line
    return None
