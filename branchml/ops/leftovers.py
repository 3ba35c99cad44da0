"""What a withdrawal leaves behind that `impact`'s row counts do not see: the split
assignment keeps the KEYS of withdrawn items after their rows are removed, and `pull
--validate` reports quote the first 80 characters of each row they dropped. Per branch,
how many of the withdrawn rows' keys its assignment still lists, and which of its reports
quote a withdrawn row.

Memory: per withdrawn row one key hash (8 bytes) per split key in use and its quoted start
(at most 80 characters); the rows themselves are streamed, one batch held."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from branchml.core import assignments, bounds
from branchml.core import split as core_split
from branchml.core.keyspans import KeySet
from branchml.core.rowhash import member
from branchml.core.rows import RowFormat, record_batches
from branchml.core.rowstream import hash_list
from branchml.core.validrows import SHOWN
from branchml.errors import StateError, UsageError
from branchml.ops import rowsource, splitrows, splitstream, trainrows
from branchml.ops.uploads import Event
from branchml.repo.reader import Git

REPORTS = "data/_validation/pull-"
REPORT_LIMIT = 64 << 20  # a report lists at most a few thousand rows: more is not ours


@dataclass
class Source:
    """Where the withdrawn rows can be read again: a file given, or an upload's versions."""

    file: Path | None = None
    fmt: RowFormat | None = None
    events: list[Event] = field(default_factory=list)


@dataclass
class Marks:
    """The withdrawn rows' key hashes per key name (sorted, distinct) and quoted starts."""

    keys: dict[str, Any] = field(default_factory=dict)
    quoted: set[str] = field(default_factory=set)


def leftovers(g: Git, tips: dict[str, str], src: Source, withdrawn: Any,
              cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Per branch (name -> tip): `assignment_keys` (withdrawn rows' keys its assignment lists;
    None when the split has no key) and `reports` quoting a withdrawn row; only branches with
    something left."""
    # each assignment read once per blob, shared with the releases' selections (2M keys: ~1 s)
    found = {b: (tip, trainrows.cached_assignment(g, tip)) for b, tip in tips.items()}
    names = {b: _key(g, tip, cfg) for b, (tip, a) in found.items() if a is not None}
    marks = _marks(g, src, withdrawn, {k for k in names.values() if k})
    out = []
    for branch, (tip, hashed) in found.items():
        keys = None
        if hashed is not None and names.get(branch):
            keys = _listed(marks.keys[names[branch] or ""], hashed.keys)
        reports = [p for p in _reports(g, tip) if _quotes(g, tip, p, marks.quoted)]
        if keys or reports:
            out.append({"branch": branch, "commit": tip, "key": names.get(branch),
                        "assignment_keys": keys, "reports": reports})
    return out


def _listed(withdrawn_keys: Any, keys: Any) -> int:
    """How many of the sorted distinct `withdrawn_keys` are among the assignment's `keys`:
    the assignment's keys probed in a table of the few withdrawn ones (sorting its 2M keys
    per branch took ~0.3 s each), those found counted once each."""
    if not len(withdrawn_keys) or not len(keys):
        return 0
    return len(np.unique(keys[KeySet(withdrawn_keys).contains(keys)]))


def _key(g: Git, tip: str, cfg: dict[str, Any]) -> str | None:
    """The key the branch's assignment was made with, as `split rows` reads it (None: a
    params file `split` did not write, so no key to judge by)."""
    try:  # in git-lfs or not, as `split` stored it
        found = splitstream.chunks(g, tip, core_split.PARAMS, 1 << 16)
        return splitrows._key(None if found is None else b"".join(found), cfg)
    except (bounds.TooLarge, StateError):
        return None


def _marks(g: Git, src: Source, withdrawn: Any, names: set[str]) -> Marks:
    parts: dict[str, list[Any]] = {k: [] for k in names}
    quoted: set[str] = set()
    for path, fmt, header, batch in _rows(g, src):
        batch = [r for r, hit in zip(batch, member(hash_list(batch), withdrawn), strict=True)
                 if hit]
        if not batch:
            continue
        quoted.update(r[:SHOWN].decode("utf-8", "replace") for r in batch)
        for k in names:
            try:
                values = splitrows._keys(path, fmt, header, batch, k)
            except (UsageError, ValueError, IndexError, KeyError, TypeError):
                continue  # not a column of these rows: no key of theirs is in an assignment
            parts[k].append(np.fromiter(map(assignments.key_hash, values), dtype=np.int64,
                                        count=len(values)))
    return Marks({k: np.unique(np.concatenate(v)) if v else np.zeros(0, dtype=np.int64)
                  for k, v in parts.items()}, quoted)


Rows = Iterator[tuple[str, RowFormat, bytes | None, list[bytes]]]


def _rows(g: Git, src: Source) -> Rows:
    if src.file is not None and src.fmt is not None:
        with src.file.open("rb") as f:
            yield from _records(str(src.file), src.fmt, f)
    for e in src.events:
        stream = io.BufferedReader(splitstream.ChunkReader(rowsource.chunks(g, e.new, e.path)),
                                   1 << 18)
        yield from _records(e.path, e.fmt, stream)


def _records(path: str, fmt: RowFormat, stream: BinaryIO) -> Rows:
    header: bytes | None = None
    for batch in record_batches(stream, fmt.has_header):
        if fmt is RowFormat.JSONL:
            batch = [r for r in batch if r.strip()]
        if header is None and batch and fmt.has_header:
            header = batch.pop(0)
        if batch:
            yield path, fmt, header, batch


def _reports(g: Git, tip: str) -> list[str]:
    return [p for _, _, p in g.ls_tree(tip) if p.startswith(REPORTS) and p.endswith(".json")]


def _quotes(g: Git, tip: str, path: str, quoted: set[str]) -> bool:
    """Whether a validation report lists a dropped row whose quoted start is a withdrawn
    row's (a report too large or not JSON is not one `pull --validate` wrote: skipped)."""
    if not quoted:
        return False
    try:
        found = splitstream.chunks(g, tip, path, REPORT_LIMIT)
        report = json.loads(b"".join(found or ()))
    except (bounds.TooLarge, ValueError):
        return False
    listed = report.get("rows") if isinstance(report, dict) else None
    if not isinstance(listed, dict):
        return False
    return any(isinstance(x, dict) and x.get("text") in quoted
               for rows in listed.values() if isinstance(rows, list) for x in rows)
