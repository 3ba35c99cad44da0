"""How many bytes branchml reads of one object a pusher or a remote chose.

Every object of a push being judged, or of a remote being cloned, was written by someone we do
not trust: its size is asked first (`git cat-file` gives it without reading the object), and an
object over its kind's limit is refused before a byte of it is read, so a few KiB on the wire
(zeros compress) cannot make a hook or a command hold hundreds of MiB.
"""

from __future__ import annotations

from branchml.core.yamlbounds import MAX_BYTES as CONFIG  # branchml.yaml: 64 KiB
from branchml.errors import UsageError

TAG_OBJECT = 4 << 20  # a release tag: its manifest holds params and metrics, and one line per model
TRACKING_JSON = 1 << 20  # tracking/params.json, tracking/metrics.json of a released commit
SPLIT_ASSIGNMENT = 256 << 20  # data/split/assignment.csv: streamed, never held whole ...
SPLIT_ROWS = 4_000_000  # ... but ~70 bytes a row, both files: ~300 MB and ~15 s at most
SPLIT_LINE = 1 << 20  # one row of the assignment (a key is a path or an id, never this long)

__all__ = ["CONFIG", "SPLIT_ASSIGNMENT", "SPLIT_LINE", "SPLIT_ROWS", "TAG_OBJECT", "TRACKING_JSON",
           "TooLarge", "human"]


def human(n: int) -> str:
    """1048576 -> "1 MiB" (limits are whole KiB or MiB)."""
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


class TooLarge(UsageError):
    """An object over its limit, found by its size alone (nothing of it was read)."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        self.what, self.size, self.limit = what, size, limit
        super().__init__(f"{what} holds {size:,} bytes, over the limit of {limit:,} bytes "
                         f"({human(limit)}) branchml reads of it; it was not read.")
