"""`branchml split rows NAME -o FILE --for PURPOSE`: the rows of one split (or several, joined
by commas) written to FILE, read from the recorded assignment and data of the checked-out
commit (when it holds an assignment: stable/* after `pull split`) or else the split branch, and
the request recorded in the working tree's `tracking/splits.jsonl`, so the training commit
carries what it trained, tuned and evaluated on (`tag` puts it in the manifest and judges it
for leakage: docs/releases.md)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from branchml.content import strategies
from branchml.core import assignments
from branchml.core import split as core
from branchml.core.globs import glob_regex
from branchml.core.leakage import IN_LFS, PURPOSES, RECORDS, split_names
from branchml.core.lfs_pointer import parse_pointer
from branchml.core.rows import RowFormat, format_for, record_batches
from branchml.errors import StateError, UsageError
from branchml.ops import splitfiles, splitstream
from branchml.ops.split import BRANCH, SKIP
from branchml.ops.splitfiles import check_target, write_whole
from branchml.ops.trusted import trusted_config
from branchml.repo import objectstore, proc
from branchml.repo.reader import Git

ROW_FORMATS = (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL)


@dataclass
class SplitRows:
    """What `split rows` wrote and recorded."""

    split: str
    purpose: str
    file: str
    rows: int
    items: int
    key: str | None
    assignment: str  # sha256 of the assignment file's content
    data_commit: str
    branch: str
    record_file: str
    dry_run: bool = False

    def record(self) -> dict[str, Any]:
        """The line appended to tracking/splits.jsonl (the manifest's `splits` entries)."""
        return {"split": self.split, "purpose": self.purpose, "rows": self.rows,
                "items": self.items, "key": self.key, "assignment": self.assignment,
                "data_commit": self.data_commit, "branch": self.branch}

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def split_rows(path: Path, name: str, out_file: Path, purpose: str = "train",
               rev: str | None = None, dry_run: bool = False) -> SplitRows:
    """Write the rows of split `name` to `out_file` and record the request (with `dry_run`,
    count them and write nothing)."""
    names = split_names(name)
    if purpose not in PURPOSES:
        raise UsageError(f"--for {purpose!r} is not a purpose; use one of "
                         f"{', '.join(PURPOSES)}.")
    repo = objectstore.Repo(path)
    if repo.root is None:
        raise StateError("split rows records the request in the working tree's tracking/ "
                         "folder: run it in a checkout (the branch you train on).")
    g = Git(path)
    try:
        commit, branch, cfg, committed = _facts(g, repo.root, rev)
        hashed = splitstream.assignment(g, commit)
        if hashed is None:
            raise StateError(f"{commit[:10]} has no {core.ASSIGNMENT}: run `branchml split` "
                             "on the split branch first.")
        store = strategies.Store(repo.common_dir, repo.root)
        key = _key(_file(repo, commit, store, core.PARAMS), cfg)
        check_target(out_file)
        old = splitfiles.read_records(repo.root, RECORDS)  # refused here, before -o is written
        rows = _Rows(g, commit, key, hashed.chosen(names))
        files = _files(repo, commit, cfg, rows)
        if dry_run:
            rows.write(files, cfg, lambda b: None)
        else:
            write_whole(out_file, lambda f: rows.write(files, cfg, f.write))
    finally:
        g.close()
    result = SplitRows(",".join(names), purpose, str(out_file), rows.rows, rows.items(files),
                       key, hashed.digest, commit, branch, RECORDS, dry_run)
    if not dry_run:
        _append_record(repo.root, old, result.record(), committed[1] if committed else b"")
    return result


def _facts(g: Git, root: Path, rev: str | None
           ) -> tuple[str, str, dict[str, Any], tuple[str, bytes] | None]:
    """(the commit whose data is read, the branch (or rev) recorded, the trusted `split`
    config, HEAD's records)."""
    commit, branch = _data_commit(g, rev)
    if commit is None:
        raise StateError(f"{rev or 'the ' + BRANCH + ' branch'} is not here: create the "
                         "split with `branchml split`, or name a commit with --rev.")
    cfg = trusted_config(g).get("split") or {}
    committed = g.show_file("HEAD", RECORDS) if g.resolve("HEAD") else None
    if _in_lfs(root, committed):
        raise UsageError(IN_LFS)
    return commit, branch, cfg, committed


def _data_commit(g: Git, rev: str | None) -> tuple[str | None, str]:
    """--rev, else the checked-out commit when it holds an assignment (stable/* after `pull
    split`: the data the release will hold), else the split branch's tip. Reading split's tip
    from stable would read rows newer than the release's when split has moved on."""
    if rev:
        return g.resolve(f"{rev}^{{commit}}"), rev
    head = g.resolve("HEAD^{commit}")
    found = g.cat.info(f"{head}:{core.ASSIGNMENT}") if head else None
    if head is not None and found is not None and g.object_type(found[0]) == "blob":
        return head, g.current_branch() or "HEAD"
    return g.resolve(f"refs/heads/{BRANCH}"), BRANCH


def _in_lfs(root: Path, committed: tuple[str, bytes] | None) -> bool:
    """Whether the records would be (or are) stored in git-lfs: the guard reads plain blobs."""
    said = proc.output(["git", "check-attr", "filter", "--", RECORDS], cwd=root, check=False)
    return said.strip().endswith(": lfs") or (
        committed is not None and parse_pointer(committed[1]) is not None)


def _key(params: bytes | None, cfg: dict[str, Any]) -> str | None:
    """The key the assignment was made with (its params file), else the config's."""
    if params is None:
        return cfg.get("key")
    try:
        found = json.loads(params)
    except ValueError:
        found = None
    if not isinstance(found, dict) or not isinstance(found.get("key"), str | None):
        raise StateError(f"{core.PARAMS} on the split branch is not the JSON `split` writes; "
                         "restore it from the split branch's history.")
    return found.get("key")


def _file(repo: objectstore.Repo, commit: str, store: strategies.Store, path: str
          ) -> bytes | None:
    data = repo.read_file(commit, path)
    return None if data is None else strategies._read(data, store, path)


def _sources(repo: objectstore.Repo, commit: str, cfg: dict[str, Any]) -> list[str]:
    rx = glob_regex(cfg.get("source", "data/**"))
    return sorted(p for p in _paths(repo.pg[commit].tree, "") if rx.match(p)
                  and not p.startswith(SKIP))


def _paths(tree: Any, prefix: str) -> Iterator[str]:
    for e in tree:
        if e.type_str == "tree":
            yield from _paths(e, f"{prefix}{e.name}/")
        elif e.type_str == "blob":
            yield prefix + e.name


def _files(repo: objectstore.Repo, commit: str, cfg: dict[str, Any], rows: _Rows
           ) -> list[str]:
    """The source files to read: all (keyed), or the files the split assigns (each an item)."""
    paths = _sources(repo, commit, cfg)
    if rows.key is not None:
        return paths
    at = assignments.found_in(rows.chosen, [assignments.key_hash(p) for p in paths])
    return [p for p, i in zip(paths, at.tolist(), strict=True) if i >= 0]


class _Rows:
    """The chosen items' rows, streamed file by file and batch by batch into one file of one
    format (a CSV/TSV header once): memory is the chosen items' hashes (8 bytes each) and one
    batch, whatever the files hold."""

    def __init__(self, g: Git, commit: str, key: str | None, chosen: Any) -> None:
        import numpy as np

        self.g, self.commit, self.key, self.chosen = g, commit, key, chosen
        self.found = np.zeros(len(chosen), dtype=bool)
        self.shape: tuple[RowFormat, bytes | None] | None = None
        self.rows = 0

    def items(self, files: list[str]) -> int:
        return int(self.found.sum()) if self.key is not None else len(files)

    def write(self, files: list[str], cfg: dict[str, Any], out: Callable[[bytes], object]
              ) -> None:
        for p in files:
            fmt = format_for(p, cfg.get("formats"))
            if fmt not in ROW_FORMATS:
                if self.key is None:
                    raise UsageError(f"{p} is an item of this split but has no row format (CSV, "
                                     "TSV, JSON lines): read the files the assignment lists "
                                     "instead.")
                continue
            assert fmt is not None
            with splitstream.open_file(self.g, self.commit, p) as stream:
                self._file(p, fmt, stream, files[0], out)
        if self.shape is None:
            raise UsageError("the split has no CSV, TSV or JSON lines files to read rows from.")

    def _file(self, p: str, fmt: RowFormat, stream: BinaryIO, first: str,
              out: Callable[[bytes], object]) -> None:
        header: bytes | None = None
        started = False
        for batch in record_batches(stream, fmt.has_header):
            if fmt is RowFormat.JSONL:
                batch = [r for r in batch if r.strip()]
            if not started and batch:
                header = batch.pop(0) if fmt.has_header else None
                self._shape(p, fmt, header, first, out)
                started = True
            kept = self._chosen(p, fmt, header, batch)
            self.rows += len(kept)
            out(b"".join(r + b"\n" for r in kept))
        if not started:
            self._shape(p, fmt, None, first, out)

    def _shape(self, p: str, fmt: RowFormat, header: bytes | None, first: str,
               out: Callable[[bytes], object]) -> None:
        if self.shape is not None and self.shape != (fmt, header):
            raise UsageError(f"{p} does not share the format and header of {first}: split "
                             "rows writes one file; keep one table's files under the source.")
        if self.shape is None and header is not None:
            out(header + b"\n")
        self.shape = (fmt, header)

    def _chosen(self, p: str, fmt: RowFormat, header: bytes | None, records: list[bytes]
                ) -> list[bytes]:
        if self.key is None:
            return records
        try:
            values = _keys(p, fmt, header, records, self.key)
        except (ValueError, IndexError, KeyError, TypeError, csv.Error):
            raise UsageError(f"{p} has a row `split` could not have read (not JSON, or too few "
                             "fields); fix the file on the split branch first.") from None
        at = assignments.found_in(self.chosen, [assignments.key_hash(v) for v in values])
        self.found[at[at >= 0]] = True
        return [r for r, i in zip(records, at.tolist(), strict=True) if i >= 0]


def _keys(p: str, fmt: RowFormat, header: bytes | None, records: list[bytes], key: str
          ) -> list[str]:
    """Each record's key value, read as `split` reads it (the csv module; JSON objects)."""
    if fmt is RowFormat.JSONL:
        return [str(json.loads(r)[key]) for r in records]
    delim = fmt.delimiter.decode()
    columns = next(csv.reader([(header or b"").decode()], delimiter=delim))
    if key not in columns:
        raise UsageError(f"the split's key {key!r} is not a column of {p}.")
    at = columns.index(key)
    fast = _plain_keys(records, delim, at)
    if fast is not None:
        return fast
    return [next(csv.reader([r.decode()], delimiter=delim))[at] for r in records]


def _plain_keys(records: list[bytes], delim: str, at: int) -> list[str] | None:
    """The same answers as the csv module, ~10x faster, for a batch it reads as plain splits
    on the delimiter: no quote, CR or NUL, no empty record (the csv module reads no field
    there). None: read it with the csv module."""
    text = b"\n".join(records).decode()  # one decode: a bad byte anywhere fails as per row
    if not records or '"' in text or "\r" in text or "\0" in text:
        return None
    lines = text.split("\n")
    if "" in lines:
        return None
    return [ln.split(delim, at + 1)[at] for ln in lines]


def _append_record(root: Path, old: bytes, record: dict[str, Any], committed: bytes) -> None:
    """Appended to this run's records. The records belong to the commit about to be made:
    a file still as HEAD committed it holds the previous run's requests, so the first
    request of a new run starts the file again (else each release would inherit them)."""
    record = {**record, "time": datetime.now(UTC).isoformat(timespec="seconds")}
    if old == committed:
        old = b""
    sep = b"" if not old or old.endswith(b"\n") else b"\n"
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    splitfiles.write_records(root, RECORDS, old + sep + line)
