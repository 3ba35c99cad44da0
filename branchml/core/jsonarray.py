"""The append strategy for a JSON file holding one top-level array: the same rule as rows
(repeated items a multiset: an item ours added k times and theirs n times is there max(k, n)
times on top of base)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from branchml.errors import ConflictError, UsageError


def append_json_array(base: bytes | None, ours: bytes, theirs: bytes, path: str) -> bytes:
    """A top-level JSON array: ours' items, then theirs' new items (same rule as rows)."""
    return append_json_items(base, ours, theirs, path)[0]


def append_json_items(base: bytes | None, ours: bytes, theirs: bytes, path: str
                      ) -> tuple[bytes, int]:
    """`append_json_array`, and how many items it appended (for the merge's summary)."""
    def load(data: bytes, side: str) -> list[Any]:
        try:
            value = json.loads(data) if data.strip() else []
        except ValueError:
            raise UsageError(f"{path}: {side} is not valid JSON.") from None
        except RecursionError:  # json's C parser stops at Python's recursion limit
            raise UsageError(_too_deep(path, side)) from None
        if not isinstance(value, list):
            raise ConflictError(f"{path}: {side} is not a JSON array; it cannot be appended.")
        return value

    def key(item: Any) -> str:
        return json.dumps(item, sort_keys=True, separators=(",", ":"))

    b, o, t = load(base or b"", "base"), load(ours, "ours"), load(theirs, "theirs")
    try:  # an item just within the parser's depth may be past it here, a few frames deeper
        bk, ok, tk = [key(x) for x in b], [key(x) for x in o], [key(x) for x in t]
    except RecursionError:
        raise UsageError(_too_deep(path, "a side")) from None
    # a multiset, as for rows: an item ours added k times covers k of theirs' new copies
    o_new = Counter(k for k, new in zip(ok, _minus(ok, bk), strict=True) if new)
    added = []
    for x, k, new in zip(t, tk, _minus(tk, bk), strict=True):
        if new and o_new[k]:
            o_new[k] -= 1
        elif new:
            added.append(x)
    if not added:
        return ours, 0
    merged = o + added
    indent = 2 if b"\n" in ours.strip() else None
    try:  # the indenting encoder is Python code: its depth is not the parser's
        text = json.dumps(merged, indent=indent, ensure_ascii=False)
    except RecursionError:
        raise UsageError(_too_deep(path, "the merged array")) from None
    return (text + "\n").encode(), len(added)


def _too_deep(path: str, side: str) -> str:
    return (f"{path}: {side} nests arrays or objects too deeply to be merged; flatten it, "
            "then merge again.")


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
