"""The items of a top-level JSON array counted from a byte stream (for `branchml diff`),
without building a single object: a few NumPy passes per chunk, memory bounded by the chunk.

json.load built the whole document to take its length: 30 MB of `[{},{},...]` took 806 MB,
and a file of 200,000 nested `[` raised RecursionError (hostile review atk18 #07). This
scanner tracks only what counting needs: which bytes are inside strings (escapes removed
first, so every remaining `"` opens or closes one), the nesting depth, and the commas at
depth 1. It is a counter, not a validator: a file it counts may still be invalid JSON in ways
that do not change the count (a bad literal inside an item); a file whose structure it cannot
follow is not counted, with the reason.
"""

from __future__ import annotations

import re
from typing import BinaryIO

import numpy as np

CHUNK = 1 << 20
MAX_DEPTH = 512  # deeper than json's own parser goes (it stops near 1,000 with RecursionError)
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_SPACE = b" \t\r\n"


class NotCounted(ValueError):
    """Why the items of a file were not counted, in a few words."""


class _Scan:
    def __init__(self) -> None:
        self.depth = 0  # nesting at the end of what was read
        self.quotes = 0  # parity of the quotes read: 1 inside a string
        self.items = 0  # commas at depth 1, then +1 for a non-empty array
        self.nonempty = False
        self.started = False
        self.closed = False

    def feed(self, data: bytes) -> None:
        a = np.frombuffer(data, dtype=np.uint8)
        inside = (np.cumsum(a == ord('"'), dtype=np.int32) + self.quotes) & 1
        out = (inside == 0) & (a != ord('"'))
        opens = out & ((a == ord("[")) | (a == ord("{")))
        closes = out & ((a == ord("]")) | (a == ord("}")))
        after = self.depth + np.cumsum(opens.astype(np.int32) - closes, dtype=np.int32)
        before = after - opens + closes
        space = np.isin(a, np.frombuffer(_SPACE, dtype=np.uint8))
        if not self.started:
            self._start(a, space)
        if after.size and (after.min() < 0 or after.max() > MAX_DEPTH):
            raise NotCounted("it nests deeper than 512 levels" if after.max() > MAX_DEPTH
                             else "its brackets do not match")
        top = ~space & (before == 0)  # bytes outside the top-level array
        if (self.closed and top.any()) or np.count_nonzero(top & ~opens) > 0 \
                or np.count_nonzero(top & opens) > (0 if self.closed or self.depth else 1):
            raise NotCounted("it is not one JSON array")
        self.items += int(np.count_nonzero(out & (a == ord(",")) & (after == 1)))
        self.nonempty = self.nonempty or bool(np.any(~space & (before >= 1) & (after >= 1)))
        self.quotes = int(inside[-1]) if inside.size else self.quotes
        self.depth = int(after[-1]) if after.size else self.depth
        self.closed = self.closed or bool(np.any((before == 1) & (after == 0)))

    def _start(self, a: np.ndarray, space: np.ndarray) -> None:
        first = np.flatnonzero(~space)
        if first.size:
            if a[first[0]] != ord("["):
                raise NotCounted("it is not a JSON array")
            self.started = True


def count_items(stream: BinaryIO) -> int:
    """The items of the JSON array `stream` holds; NotCounted (with why) when it holds
    none, or nests deeper than MAX_DEPTH, or its structure does not add up."""
    scan, carry = _Scan(), b""
    read = stream.read(max(CHUNK, 3))  # a BOM is read whole
    chunk, end = read.removeprefix(b"\xef\xbb\xbf"), not read
    while True:
        data = _ESCAPE.sub(b"", carry + chunk)
        # a lone backslash at the end escapes the first byte of the next chunk
        carry = data[-1:] if data.endswith(b"\\") and not end else b""
        if len(data) > len(carry):
            scan.feed(data[:len(data) - len(carry)])
        if end:
            break
        chunk = stream.read(CHUNK)
        end = not chunk
    if not scan.started or not scan.closed or scan.depth or scan.quotes:
        raise NotCounted("it is not a whole JSON array" if scan.started
                         else "it is not a JSON array")
    return scan.items + 1 if scan.nonempty else 0
