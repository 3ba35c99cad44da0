"""`branchml diff A B`: what changed between two releases, from their tags and commits:
code files, data per folder (files, bytes) and per file (rows, for row formats), models,
params and metrics."""

from __future__ import annotations

import io
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from branchml.content.validation import REPORT_DIR
from branchml.core.jsoncount import NotCounted
from branchml.core.lfs_pointer import MAX_POINTER_SIZE, parse_pointer
from branchml.core.model import PathClass
from branchml.core.rowcount import rows_of
from branchml.core.rowdiff import RowSet, row_change, row_set
from branchml.core.rows import RowFormat, format_for
from branchml.core.split import ASSIGNMENT
from branchml.ops.release import find, tag_format
from branchml.ops.trusted import load_trusted, trusted_ref
from branchml.repo import lfs
from branchml.repo.reader import Git

JSON_LIMIT = 256 << 20  # bytes of a JSON array file `diff` scans to count its items (time)
CHANGE = {"A": "added", "D": "deleted", "M": "modified", "T": "modified"}


def diff(path: Path, a: str, b: str) -> dict[str, Any]:
    g = Git(path)
    try:
        fmt = tag_format(g)
        ra, rb = find(g, fmt, a), find(g, fmt, b)
        ma, mb = ra.manifest or {}, rb.manifest or {}
        trusted = load_trusted(g, [trusted_ref(g), "HEAD"])
        changed = _changed(g, ra.commit, rb.commit)
        policy = trusted.policy
        formats = dict(trusted.config.get("formats") or {})
        files = [_data_file(g, p, old, new, status, format_for(p, formats))
                 for p, old, new, status in changed if policy.classify(p) is PathClass.DATA]
    finally:
        g.close()
    return {"from": a, "to": b,
            "code_changed": [p for p, *_ in changed if policy.classify(p) is PathClass.CODE],
            "data": _folders(ma["data"], mb["data"], files), "files": files,
            "models_changed": sorted(p for p in set(ma["models"]) | set(mb["models"])
                                     if ma["models"].get(p) != mb["models"].get(p)),
            "params": delta(ma["params"], mb["params"]),
            "metrics": delta(ma["metrics"], mb["metrics"])}


def delta(x: dict[str, Any], y: dict[str, Any]) -> dict[str, Any]:
    """Keys whose value differs: `from`/`to` (null where the key is absent: `change` says
    `added` or `removed`, so an absent value is not mistaken for a null one)."""
    out = {}
    for k in sorted(set(x) | set(y)):
        if k in x and k in y and x[k] == y[k]:
            continue
        d = {"from": x.get(k), "to": y.get(k),
             "change": "added" if k not in x else "removed" if k not in y else "changed"}
        if isinstance(x.get(k), int | float) and isinstance(y.get(k), int | float):
            d["delta"] = y[k] - x[k]
        out[k] = d
    return out


def _changed(g: Git, a: str, b: str) -> list[tuple[str, str, str, str]]:
    """(path, old blob, new blob, status letter) of every file that differs."""
    raw = g.out("diff", "--raw", "-z", "--no-renames", "--no-abbrev", a, b)
    fields = raw.split("\0")
    out = []
    for head, p in zip(fields[0::2], fields[1::2], strict=False):
        parts = head.lstrip(":").split()
        if len(parts) == 5:
            out.append((p, parts[2], parts[3], parts[4][0]))
    return out


def _folders(da: dict[str, Any], db: dict[str, Any], files: list[dict[str, Any]]
             ) -> dict[str, dict[str, Any]]:
    """Per top-level data folder: files, bytes and (where each data file's are known) rows
    added, removed and net; validation reports and the split assignment are not data rows."""
    out = {}
    for p in sorted(set(da) | set(db)):
        mine = [f for f in files if f["path"].split("/", 1)[0] == p
                and not f["validation_report"] and not f["split_assignment"]]
        out[p] = {"files_added": db.get(p, {}).get("files", 0) - da.get(p, {}).get("files", 0),
                  "bytes_added": db.get(p, {}).get("bytes", 0) - da.get(p, {}).get("bytes", 0),
                  **{k: _total(mine, k) for k in ("rows_added", "rows_removed", "rows_net")}}
    return out


def _total(files: list[dict[str, Any]], key: str) -> int | None:
    """The sum of `key` over files, None when a file's is not known (or there is none)."""
    values = [f[key] for f in files]
    return sum(values) if values and None not in values else None


def _data_file(g: Git, path: str, old: str, new: str, status: str, fmt: RowFormat | None
               ) -> dict[str, Any]:
    """One changed data file: rows before and after, and (for a row file, or a file added
    or deleted) the rows added and removed; where only counts are had, `rows_net` alone."""
    report = path.startswith(REPORT_DIR + "/")
    before = after = None
    why = None
    if fmt is not None and not report:
        try:
            before = _NONE if old.strip("0") == "" else _rows(g, old, path, fmt)
            after = _NONE if new.strip("0") == "" else _rows(g, new, path, fmt)
        except NotCounted as e:  # a file whose rows cannot be counted: why, never a crash
            why = str(e)
    change = net = None
    if before is not None and after is not None:
        change, net = row_change(before, after), after.rows - before.rows
    return {"path": path, "change": CHANGE.get(status, "modified"),
            "format": fmt.value if fmt else None, "validation_report": report,
            "split_assignment": path == ASSIGNMENT,
            "rows_before": None if before is None else before.rows,
            "rows_after": None if after is None else after.rows,
            "rows_added": None if change is None else change.added,
            "rows_removed": None if change is None else change.removed,
            "rows_net": net,
            "rows_not_read": why}


_NONE = RowSet(0, None)  # the side of a file added or deleted: no rows


def _rows(g: Git, oid: str, path: str, fmt: RowFormat) -> RowSet | None:
    """Rows of one blob (its LFS object's, for a pointer): counted, and hashed for a line
    format (`row_set`, one pass); None when they cannot be had
    (an LFS object not here nor fetchable, a SQLite or Parquet file that does not open);
    NotCounted (with why) for a row file whose rows cannot be counted."""
    size = g.cat.size(oid)
    if size is None:  # not a blob here (a gitlink, a shallow clone's missing object)
        return None
    head = g.cat.read(oid) if size <= MAX_POINTER_SIZE else None
    pointer = parse_pointer(head[1]) if head else None
    if fmt is RowFormat.JSON and (pointer.size if pointer else size) > JSON_LIMIT:
        raise NotCounted(f"it is over the {JSON_LIMIT:,} bytes a JSON file is scanned for")
    if pointer is not None:
        common = g.layout.common_dir
        if not lfs.ensure_local(common, g.cwd, pointer, path):
            return None
        return _count_file(lfs.object_file(common, pointer), fmt)
    if fmt in (RowFormat.SQLITE, RowFormat.PARQUET):
        data = head[1] if head else (g.cat.read(oid) or ("", b""))[1]
        tmp = g.layout.common_dir / "branchml" / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=tmp, suffix=f".{fmt.value}") as f:
            f.write(data)
            f.flush()
            return _count_file(Path(f.name), fmt)
    if head:
        return _measure(io.BytesIO(head[1]), fmt)
    chunks = g.cat.stream(oid)
    return None if chunks is None else _measure(io.BufferedReader(_Stream(chunks)), fmt)


def _measure(stream: BinaryIO, fmt: RowFormat) -> RowSet:
    """A line format's rows counted and hashed; a JSON array's items counted only."""
    return row_set(stream, fmt) if fmt.streams else RowSet(rows_of(stream, fmt), None)


def _count_file(file: Path, fmt: RowFormat) -> RowSet | None:
    if fmt in (RowFormat.SQLITE, RowFormat.PARQUET):
        n = _sqlite_rows(file) if fmt is RowFormat.SQLITE else _parquet_rows(file)
        return None if n is None else RowSet(n, None)
    with file.open("rb") as f:
        return _measure(f, fmt)


def _sqlite_rows(file: Path) -> int | None:
    """Rows of every table (opened read-only and immutable: the store is never written)."""
    try:
        con = sqlite3.connect(f"{file.as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            names = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%'")]
            # a table name from the file itself, as a quoted identifier (" doubled)
            quoted = ['"' + n.replace('"', '""') + '"' for n in names]
            return sum(int(con.execute(f"SELECT count(*) FROM {q}").fetchone()[0])  # noqa: S608
                       for q in quoted)
        finally:
            con.close()
    except sqlite3.Error:  # not a database: no rows to count
        return None


def _parquet_rows(file: Path) -> int | None:
    """From the file's footer alone; None without pyarrow (an optional extra)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return None
    try:
        return int(pq.ParquetFile(file).metadata.num_rows)
    except Exception:  # pyarrow's errors (ArrowInvalid, OSError): not a Parquet file
        return None


class _Stream(io.RawIOBase):
    """A blob's chunks from `cat-file` as a readable stream."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._left:
            self._left = next(self._chunks, b"")
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n
