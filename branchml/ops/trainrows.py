"""The rows a release (or a commit) trained on, as row hashes in batches, never the rows.

When its split records (`tracking/splits.jsonl`, kept in the manifest) hold requests for
train or tune, exactly the rows those requests wrote: each record's data commit read through
its assignment and split names as `split rows` reads them (ops/splitrows.py's selection,
hashing instead of writing). Else every row of every data-class file of its commit.
"""

from __future__ import annotations

import csv
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from branchml.content import strategies
from branchml.core import assignments, keyspans
from branchml.core import split as core_split
from branchml.core.leakage import TRAINING, split_names
from branchml.core.model import PathClass
from branchml.core.policy import Policy
from branchml.core.rowhash import HashSet, member
from branchml.core.rowindex import REGULAR
from branchml.core.rows import Batch, RowFormat, format_for, record_blocks
from branchml.core.rowstream import LINE_FORMATS, hash_block, hash_list
from branchml.errors import StateError
from branchml.ops import rowsource, splitrows, splitstream
from branchml.ops.split import SKIP
from branchml.ops.trusted import trusted_config
from branchml.repo import lfs, objectstore
from branchml.repo.reader import Git

DATA_FOLDERS = "data folders"
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
        return Training("splits", [_request(g, path, c, a, names, only)
                                   for (c, a), names in union(records).items()])
    return commit_files(g, policy, manifest["commit"], DATA_FOLDERS)


def union(records: list[dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    """The split names the train/tune records ask of each (data commit, assignment): the data
    a release trained on is the union of its requests, so a request repeated, or `train`
    then `train,val`, selects each row once, not once per record."""
    out: dict[tuple[str, str], list[str]] = {}
    for r in records:
        names = out.setdefault((str(r["data_commit"]), str(r.get("assignment") or "")), [])
        names.extend(n for n in split_names(str(r["split"])) if n not in names)
    return {k: sorted(v) for k, v in out.items()}


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


def _request(g: Git, path: Path, commit: str, digest: str, names: list[str],
             only: Any | None) -> Unit:
    return Unit(f"{commit}:{','.join(names)}", lambda sink: split_selection(
        g, path, commit, names, sink, digest, only))


def split_selection(g: Git, path: Path, commit: str, names: list[str], sink: Sink,
                    digest: str = "", only: Any | None = None) -> None:
    """The rows split names `names` of `commit`'s assignment select, as `split rows` selects
    them, hashed into `sink` (with `only`: those of them among these sorted hashes)."""
    rows, files, cfg = selector(g, path, commit, names, _Hashing, digest)
    rows.only, rows.sink = only, sink
    rows.write(files, cfg, lambda block: sink(hash_block(block)) if block else None)


def selector(g: Git, path: Path, commit: str, names: list[str], kind: type[_Hashing],
             digest: str = "") -> tuple[_Hashing, list[str], dict[str, Any]]:
    """A `kind` selecting split names `names` of `commit`'s assignment (the one its request
    recorded, `digest`), the files it reads, and the `split` config."""
    hashed, key, repo, cfg = source(g, path, commit, digest)
    rows = kind(g, commit, key, hashed.chosen(names))
    if key is not None and hashed.row_keys is not None:
        rows.probe = keyspans.KeySet(hashed.chosen_rows(names)).contains
    return rows, splitrows._files(repo, commit, cfg, rows), cfg


def source(g: Git, path: Path, commit: str, digest: str = ""
           ) -> tuple[assignments.Hashed, str | None, objectstore.Repo, dict[str, Any]]:
    """`commit`'s assignment (checked against the `digest` its request recorded), the key it
    was made with, the repository and the `split` config: what a selection reads."""
    if g.resolve(f"{commit}^{{commit}}") is None:
        raise StateError(f"the split request's data commit {commit[:10]} is not here: fetch "
                         "the split branch (`git fetch origin split`), then run this again.")
    hashed = cached_assignment(g, commit)
    if hashed is None or (digest and hashed.digest != digest):
        raise StateError(f"the assignment of {commit[:10]} is not the one its split request "
                         "recorded, so the rows it selected cannot be known: check the "
                         "release with `branchml verify`.")
    repo = objectstore.Repo(path)
    cfg = trusted_config(g).get("split") or {}
    store = strategies.Store(repo.common_dir, repo.root or repo.common_dir)
    key = splitrows._key(splitrows._file(repo, commit, store, core_split.PARAMS), cfg)
    return hashed, key, repo, cfg


# per reader, each commit's assignment read once (impact selects each split name of one)
_ASSIGNMENTS: weakref.WeakKeyDictionary[Git, dict[str, assignments.Hashed | None]] = \
    weakref.WeakKeyDictionary()


def forget(g: Git) -> None:
    """Let go of the assignments `g`'s reads cached (their keys and row hashes)."""
    _ASSIGNMENTS.pop(g, None)


def cached_assignment(g: Git, commit: str) -> assignments.Hashed | None:
    """`commit`'s assignment, read with its keys' row hashes once per blob (a release's split
    request names a stable commit, impact the split branch: one assignment, read once)."""
    found = _ASSIGNMENTS.setdefault(g, {})
    blob = g.cat.info(f"{commit}:{core_split.ASSIGNMENT}")
    key = blob[0] if blob is not None else commit
    if key not in found:
        found[key] = splitstream.assignment(g, commit, row_keys=True)
    return found[key]


class _Hashing(splitrows._Rows):
    """`split rows`'s selection with the header left out of what is written: only rows;
    with `only`, the rows whose hashes are not in it are dropped first (the same selection
    of the rest, without reading every row's key). With `probe` (the chosen keys by row
    hash), a plain CSV/TSV block is selected whole with NumPy (core/keyspans.py) and its
    rows' hashes go to `sink` directly; any other block is read as `split rows` reads it."""

    only: Any | None = None
    _set: HashSet | None = None
    sink: Sink = staticmethod(lambda h: None)
    probe: Callable[[Any], Any] | None = None  # key row hashes -> mask of the chosen ones
    _column: tuple[bytes | None, int | None] | None = None  # (header, the key's field)
    _only: tuple[Any, keyspans.KeySet] | None = None  # `only`, and it as a set to probe

    def _file(self, p: str, fmt: RowFormat, stream: BinaryIO, first: str,
              out: Callable[[bytes], object]) -> None:
        if self.probe is None or fmt is RowFormat.JSONL:
            return super()._file(p, fmt, stream, first, out)
        header: bytes | None = None
        started = False
        for batch in record_blocks(stream, True):
            if not started and len(batch):  # the header: the first record, as split rows
                header, rest = _header(batch)
                self._shape(p, fmt, header, first, out)
                started = True
                if self._key_field(fmt, header) is None:  # split rows' sentence for it
                    self._listed(p, fmt, header, [], out)
                if isinstance(rest, list) or not self._block(p, fmt, header, rest):
                    self._listed(p, fmt, header, Batch(rest).rows if isinstance(rest, bytes)
                                 else rest, out)
            elif started and (batch.raw is None or not self._block(p, fmt, header, batch.raw)):
                self._listed(p, fmt, header, batch.rows, out)
        if not started:
            self._shape(p, fmt, None, first, out)

    def _listed(self, p: str, fmt: RowFormat, header: bytes | None, records: list[bytes],
                out: Callable[[bytes], object]) -> None:
        kept = self._chosen(p, fmt, header, records)
        self.rows += len(kept)
        out(b"".join(r + b"\n" for r in kept))

    def _block(self, p: str, fmt: RowFormat, header: bytes | None, raw: bytes) -> bool:
        """Select a plain block's rows with NumPy; False: not plain, read it as a list."""
        spans = keyspans.row_spans(raw)
        if spans is None:
            return False
        starts, lens = spans
        hashes = None
        if self.only is not None:
            hashes = keyspans.hash_spans(raw, starts, lens)
            if self._only is None or self._only[0] is not self.only:
                self._only = (self.only, keyspans.KeySet(self.only))
            held = self._only[1].contains(hashes)
            if not held.any():
                return True
            starts, lens, hashes = starts[held], lens[held], hashes[held]
        at = self._key_field(fmt, header)
        found = None if at is None else keyspans.key_spans(raw, starts, lens,
                                                            fmt.delimiter[0], at)
        if found is None or not _utf8(raw):
            return False  # split rows' path: its answer, or its one sentence
        assert self.probe is not None
        keep = self.probe(keyspans.hash_spans(raw, *found))
        rows = hashes[keep] if hashes is not None else \
            keyspans.hash_spans(raw, starts[keep], lens[keep])
        self.rows += len(rows)
        if len(rows):
            self.sink(rows)
        return True

    def _key_field(self, fmt: RowFormat, header: bytes | None) -> int | None:
        """The key's field in rows under `header`, read as split rows reads it (None: it is
        not there, or the header does not read; split rows' path says so)."""
        if self._column is None or self._column[0] != header:
            try:
                columns = next(csv.reader([(header or b"").decode()],
                                          delimiter=fmt.delimiter.decode()))
            except (ValueError, csv.Error, StopIteration):
                columns = []
            at = columns.index(self.key) if self.key in columns else None
            self._column = (header, at)
        return self._column[1]

    def _chosen(self, p: str, fmt: RowFormat, header: bytes | None, records: list[bytes]
                ) -> list[bytes]:
        if self.only is not None and records:
            records = list(compress(records, member(hash_list(records), self.only)))
        if self.key is None or not records:
            return super()._chosen(p, fmt, header, records)
        try:  # split rows' answers, its probes sorted (HashSet): ~3x faster on 10M rows
            values = splitrows._keys(p, fmt, header, records, self.key)
        except (ValueError, IndexError, KeyError, TypeError, csv.Error):
            return super()._chosen(p, fmt, header, records)  # its one sentence
        if self._set is None:
            self._set = HashSet(self.chosen)
        keys = np.fromiter(map(assignments.key_hash, values), dtype=np.int64, count=len(values))
        return list(compress(records, self._set.contains(keys)))

    def _shape(self, p: str, fmt: RowFormat, header: bytes | None, first: str,
               out: Callable[[bytes], object]) -> None:
        super()._shape(p, fmt, header, first, lambda b: None)


def _header(batch: Batch) -> tuple[bytes, list[bytes] | bytes]:
    """A file's first batch as (its first record, the rest: raw bytes when it has them)."""
    if batch.raw is None:
        return batch.rows[0], batch.rows[1:]
    cut = batch.raw.index(b"\n")
    first = batch.raw[:cut]
    return first[:-1] if first.endswith(b"\r") else first, batch.raw[cut + 1:]


def _utf8(raw: bytes) -> bool:
    """Whether the block decodes (split rows decodes each row and refuses one that does
    not); ASCII blocks, the usual case, are checked at memory speed."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
