"""The rows a release (or a commit) trained on, as row hashes in batches, never the rows.

When its split records (`tracking/splits.jsonl`, kept in the manifest) hold requests for
train or tune, exactly the rows those requests wrote: each record's data commit read through
its assignment and split names as `split rows` reads them (ops/splitrows.py's selection,
hashing instead of writing). Else every row of every data-class file of its commit.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np

from branchml.content import strategies
from branchml.core import assignments
from branchml.core import split as core_split
from branchml.core.leakage import TRAINING, split_names
from branchml.core.model import PathClass
from branchml.core.policy import Policy
from branchml.core.rowhash import HashSet, member
from branchml.core.rowindex import REGULAR
from branchml.core.rows import RowFormat, format_for
from branchml.core.rowstream import LINE_FORMATS, hash_block, hash_list
from branchml.errors import StateError
from branchml.ops import rowsource, splitrows, splitstream
from branchml.ops.split import SKIP
from branchml.ops.trusted import trusted_config
from branchml.repo import lfs, objectstore
from branchml.repo.reader import Git

Sink = Callable[[Any], None]  # receives one int64 array of row hashes at a time


@dataclass
class Unit:
    """One thing read for rows: a split request's selection or one file's version. `key`
    names its content and selection: two units with one key hold the same rows."""

    key: str
    read: Callable[[Sink], None]


@dataclass
class Training:
    source: str  # "splits" | "data folders"
    units: list[Unit]
    not_rows: list[str] = field(default_factory=list)


def training(g: Git, path: Path, policy: Policy, manifest: dict[str, Any],
             only: Any | None = None) -> Training:
    """What `manifest`'s release trained on, as units to read; with `only` (sorted hashes),
    a split request's rows outside it are dropped before their keys are read (`impact`
    counts only those rows)."""
    records = [r for r in manifest.get("splits") or [] if r.get("purpose") in TRAINING]
    if records:
        return Training("splits", [_request(g, path, r, only) for r in records])
    return commit_files(g, policy, manifest["commit"], "data folders")


def commit_files(g: Git, policy: Policy, commit: str, source: str) -> Training:
    """Every data-class file of a row format in `commit` (branchml's own split files aside);
    the others named in `not_rows`."""
    formats = dict(trusted_config(g).get("formats") or {})
    out = Training(source, [])
    found: list[tuple[rowsource.Version, str, RowFormat]] = []
    for mode, oid, p in g.ls_tree(commit):
        if policy.classify(p) is not PathClass.DATA or p.startswith(SKIP):
            continue
        fmt = format_for(p, formats)
        if fmt not in LINE_FORMATS or mode not in REGULAR:
            out.not_rows.append(p)
            continue
        assert fmt is not None
        v = rowsource.version(g, oid)
        if v is not None:
            found.append((v, p, fmt))
    # the commit's missing LFS objects in one `git lfs fetch`, before any is read
    lfs.fetch_missing(g.layout.common_dir, g.cwd, commit,
                      [v.pointer for v, _, _ in found if v.pointer is not None])
    out.units = [Unit(f"{v.ident}:{fmt}", _file_reader(g, v, p, fmt)) for v, p, fmt in found]
    return out


def _file_reader(g: Git, v: rowsource.Version, p: str, fmt: RowFormat) -> Callable[[Sink], None]:
    def read(sink: Sink) -> None:
        for h in rowsource.hashes(g, v, p, fmt):
            sink(h)
    return read


def _request(g: Git, path: Path, record: dict[str, Any], only: Any | None) -> Unit:
    names = split_names(str(record["split"]))
    commit = str(record["data_commit"])
    return Unit(f"{commit}:{','.join(names)}", lambda sink: split_selection(
        g, path, commit, names, sink, str(record.get("assignment") or ""), only))


def split_selection(g: Git, path: Path, commit: str, names: list[str], sink: Sink,
                    digest: str = "", only: Any | None = None) -> None:
    """The rows split names `names` of `commit`'s assignment select, as `split rows` selects
    them, hashed into `sink` (with `only`: those of them among these sorted hashes)."""
    if g.resolve(f"{commit}^{{commit}}") is None:
        raise StateError(f"the split request's data commit {commit[:10]} is not here: fetch "
                         "the split branch (`git fetch origin split`), then run this again.")
    hashed = _assignment(g, commit)
    if hashed is None or (digest and hashed.digest != digest):
        raise StateError(f"the assignment of {commit[:10]} is not the one its split request "
                         "recorded, so the rows it selected cannot be known: check the "
                         "release with `branchml verify`.")
    repo = objectstore.Repo(path)
    cfg = trusted_config(g).get("split") or {}
    store = strategies.Store(repo.common_dir, repo.root or repo.common_dir)
    key = splitrows._key(splitrows._file(repo, commit, store, core_split.PARAMS), cfg)
    rows = _Hashing(g, commit, key, hashed.chosen(names))
    rows.only = only
    rows.write(splitrows._files(repo, commit, cfg, rows), cfg,
               lambda block: sink(hash_block(block)) if block else None)


# per reader, each commit's assignment read once (impact selects each split name of one)
_ASSIGNMENTS: weakref.WeakKeyDictionary[Git, dict[str, assignments.Hashed | None]] = \
    weakref.WeakKeyDictionary()


def _assignment(g: Git, commit: str) -> assignments.Hashed | None:
    found = _ASSIGNMENTS.setdefault(g, {})
    if commit not in found:
        found[commit] = splitstream.assignment(g, commit)
    return found[commit]


class _Hashing(splitrows._Rows):
    """`split rows`'s selection with the header left out of what is written: only rows;
    with `only`, the rows whose hashes are not in it are dropped first (the same selection
    of the rest, without reading every row's key)."""

    only: Any | None = None
    _set: HashSet | None = None

    def _chosen(self, p: str, fmt: RowFormat, header: bytes | None, records: list[bytes]
                ) -> list[bytes]:
        if self.only is not None and records:
            records = list(compress(records, member(hash_list(records), self.only)))
        if self.key is None or not records:
            return super()._chosen(p, fmt, header, records)
        try:  # split rows' answers, its probes sorted (HashSet): ~3x faster on 10M rows
            values = splitrows._keys(p, fmt, header, records, self.key)
        except (ValueError, IndexError, KeyError, TypeError):
            return super()._chosen(p, fmt, header, records)  # its one sentence
        if self._set is None:
            self._set = HashSet(self.chosen)
        keys = np.fromiter(map(assignments.key_hash, values), dtype=np.int64, count=len(values))
        return list(compress(records, self._set.contains(keys)))

    def _shape(self, p: str, fmt: RowFormat, header: bytes | None, first: str,
               out: Callable[[bytes], object]) -> None:
        super()._shape(p, fmt, header, first, lambda b: None)
