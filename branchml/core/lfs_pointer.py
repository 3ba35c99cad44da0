"""git-lfs pointer files (spec v1): parse and render."""

from __future__ import annotations

import re
from typing import NamedTuple

SPEC = "https://git-lfs.github.com/spec/v1"
MAX_POINTER_SIZE = 1024
_POINTER = re.compile(
    rb"version https://git-lfs\.github\.com/spec/v1\n"
    rb"(?:ext-\d-\w+ [^\n]*\n)*"
    rb"oid sha256:(?P<oid>[0-9a-f]{64})\n"
    rb"size (?P<size>\d+)\n\Z"
)


class LfsPointer(NamedTuple):
    oid: str
    size: int

    def render(self) -> bytes:
        return f"version {SPEC}\noid sha256:{self.oid}\nsize {self.size}\n".encode()

    @property
    def object_path(self) -> str:
        """Where git-lfs keeps the object, relative to `<git-common-dir>/lfs/objects`."""
        return f"{self.oid[:2]}/{self.oid[2:4]}/{self.oid}"


def parse_pointer(data: bytes) -> LfsPointer | None:
    if len(data) > MAX_POINTER_SIZE:
        return None
    m = _POINTER.match(data)
    if m is None:
        return None
    return LfsPointer(m["oid"].decode(), int(m["size"]))
