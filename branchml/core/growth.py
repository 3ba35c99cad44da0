"""Append-only growth, decided from the old object's id alone.

A git blob id is hash("blob <size>\\0" + content) and a git-lfs oid is sha256(content), so
"old is a byte prefix of new" holds exactly when hashing the first old-size bytes of the new
content gives the old id. The old content is never read: one streaming pass over a prefix of
the new content, bounded memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any


def git_prefix_matches(
    old_oid: str, old_size: int, new_chunks: Iterable[bytes], algo: str = "sha1"
) -> bool:
    h = hashlib.new(algo)
    h.update(b"blob %d\0" % old_size)
    return _feed(h, old_size, new_chunks) and h.hexdigest() == old_oid


def lfs_prefix_matches(old_oid: str, old_size: int, new_chunks: Iterable[bytes]) -> bool:
    h = hashlib.sha256()
    return _feed(h, old_size, new_chunks) and h.hexdigest() == old_oid


def _feed(h: Any, size: int, chunks: Iterable[bytes]) -> bool:
    """Hash exactly `size` bytes from `chunks`; False when they run out first."""
    left = size
    for chunk in chunks:
        if left <= 0:
            break
        part = chunk[:left]
        h.update(part)
        left -= len(part)
    return left <= 0
