"""Reading monitored and training tables for `monitor log` and `monitor check`: a file's
header alone, its columns CHUNK_ROWS rows at a time (pandas' C parser when installed, pyarrow
for Parquet), and values as floats with a plain error for a word in a numeric column."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from branchml.content import strategies
from branchml.content.logged import logged_source
from branchml.core import drift
from branchml.core.lfs_pointer import MAX_POINTER_SIZE, parse_pointer
from branchml.core.logcheck import MAX_COLUMNS, MAX_HEADER
from branchml.core.roles import SAMPLE_ROWS
from branchml.core.rows import RowFormat, format_for
from branchml.errors import UsageError
from branchml.repo import lfs, objectstore, proc
from branchml.repo.reader import Git

CHUNK_ROWS = 50_000
HEAD_BYTES = 16 << 20  # `monitor log` reads at most this much of the training table
FIX = "; fix the file and log it again."
# atk19-07: a chunk holds at most CELLS values (fewer rows for a wide table: 50,000 rows of
# 10,000 columns would be gigabytes); core/logcheck.py bounds the columns and the header
CELLS = 5_000_000


@dataclass
class Table:
    columns: list[str]
    rows: Iterator[list[str]]


def pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        from branchml.errors import ToolMissing

        raise ToolMissing("Parquet files need pyarrow: pip install 'branchml[parquet]'.") \
            from None
    return pq


def read_table(data: BinaryIO, fmt: RowFormat | None, name: str) -> Table:
    if fmt is RowFormat.PARQUET:
        pq = pyarrow_parquet()
        try:
            parquet = pq.ParquetFile(io.BytesIO(data.read()))
        except (ValueError, OSError) as e:  # pyarrow's ArrowInvalid is a ValueError
            raise UsageError(f"{name} is not a Parquet file pyarrow can read "
                             f"({str(e).splitlines()[0][:120]}); log the file it meant.") from None
        if parquet.metadata.num_rows == 0:
            raise UsageError(f"{name} is empty; log files with rows.")
        return Table(list(parquet.schema_arrow.names), iter(()))
    text = io.TextIOWrapper(data, encoding="utf-8", newline="")
    if fmt in (RowFormat.CSV, RowFormat.TSV):
        reader = csv.reader(text, delimiter="\t" if fmt is RowFormat.TSV else ",")
        header = next(reader, None)
        if not header:
            raise UsageError(f"{name} is empty; log files with a header and rows.")
        return Table([h.lstrip("\ufeff") for h in header], reader)
    if fmt is RowFormat.JSONL:
        # a byte-order mark may open the file (monitor log allows it there): not JSON
        lines = (json.loads(ln.removeprefix("\ufeff") if i == 0 else ln)
                 for i, ln in enumerate(text) if ln.strip())
        first = next(lines, None)
        if first is None:
            raise UsageError(f"{name} is empty; log files with rows.")
        cols = list(first)
        return Table(cols, ([str(r.get(c, "")) for c in cols] for lines_ in ([first], lines)
                            for r in lines_))
    raise UsageError(f"{name}: monitored files must be CSV, TSV, JSON lines or Parquet.")


def training(g: Git, repo: objectstore.Repo, manifest: dict[str, Any], store: strategies.Store,
              formats: dict[str, str]) -> tuple[list[str], dict[str, list[Any]]]:
    """The release's training table (the first CSV/TSV/JSONL header found under its data
    folders, and every file with that header), as column -> chunks of values."""
    cols: list[str] | None = None
    data: dict[str, list[Any]] = {}
    files = []
    for path, fmt, source in _training_files(g, repo, manifest, store, formats):
        with source() as f:
            header = read_table(f, fmt, path).columns
        if cols is None:
            cols = header
        elif header != cols:
            continue  # another table: the first one found is the training table
        files.append((path, fmt, source))
        _read_into(data, cols, source, fmt, path, set())
    if cols is None:
        raise _no_training(manifest)
    mixed = {c for c, chunks in data.items() if _mixed(chunks)}
    if mixed:  # atk19-09: a chunk of codes alone (007, 042) was parsed as numbers (7, 42)
        data = {}
        for path, fmt, source in files:
            _read_into(data, cols, source, fmt, path, mixed)
    return cols, data


def _read_into(data: dict[str, list[Any]], cols: list[str], source: Any, fmt: RowFormat,
               path: str, text: set[str]) -> None:
    for chunk in column_chunks(source, fmt, path, text=text):
        for c in cols:
            data.setdefault(c, []).append(chunk.get(c, ()))


def _mixed(chunks: list[Any]) -> bool:
    """Whether pandas read some chunks of a column as numbers and others as text: a
    categorical column whose values look like numbers in some chunks."""
    kinds = {getattr(c, "dtype", None) is not None and c.dtype.kind in "fiu" for c in chunks
             if len(c)}
    return len(kinds) > 1


def categorical(trackers: dict[str, Any]) -> set[str]:
    """The columns `monitor check` compares as categories: read as text, never as numbers
    (pandas would read a chunk of codes 007, 042 as 7, 42: every value a new category)."""
    return {n for n, t in trackers.items() if isinstance(t, drift.CategoricalFeature)}


def training_head(g: Git, repo: objectstore.Repo, manifest: dict[str, Any],
                  store: strategies.Store, formats: dict[str, str]
                  ) -> tuple[list[str], dict[str, Any]]:
    """The training table's columns (the first data file's header) and the values of its
    first SAMPLE_ROWS rows (column -> values): what `monitor log` needs, read without parsing
    the rest of the table."""
    for path, fmt, source in _training_files(g, repo, manifest, store, formats, lazy=True):
        if fmt is not RowFormat.PARQUET:
            source = _head(repo, manifest["commit"], path, store)
        with source() as f:
            cols = read_table(f, fmt, path).columns
        # the csv module, not pandas: `monitor log` never imports pandas (~90 MiB with
        # pyarrow) for files of plain numbers
        first = next(iter(column_chunks(source, fmt, path, fast=False, rows=SAMPLE_ROWS)), {})
        return cols, {c: _numbers_once(first.get(c, ())) for c in cols}
    raise _no_training(manifest)


def _numbers_once(values: Any) -> Any:
    """A column of the training head as floats when every value reads as one (so roles and
    the numeric columns judge it without parsing it again), else as it was read."""
    try:
        return floats(values, "", "")
    except UsageError:
        return values


def _head(repo: objectstore.Repo, commit: str, path: str, store: strategies.Store
          ) -> Callable[[], BinaryIO]:
    """The first HEAD_BYTES of a training file (whole lines), never the whole file: from its
    git-lfs object, or from `git cat-file` stopped once they are read."""
    oid = repo.pg[commit].tree[path].id
    _, size = repo.pg.odb.read_header(oid)
    if size <= MAX_POINTER_SIZE:
        data = bytes(repo.pg[oid].data)
        pointer = parse_pointer(data)
        if pointer is not None:
            with lfs.open_object(store.common_dir, store.cwd, pointer, path) as f:
                data = f.read(HEAD_BYTES)
    else:
        p = proc.popen(["git", "cat-file", "blob", str(oid)], cwd=store.cwd, stdin=False)
        assert p.stdout is not None
        data = p.stdout.read(HEAD_BYTES)
        p.kill()
        p.communicate()
    if len(data) == HEAD_BYTES:
        data = data[: data.rfind(b"\n") + 1] or data
    return lambda: io.BytesIO(data)


def _training_files(g: Git, repo: objectstore.Repo, manifest: dict[str, Any],
                    store: strategies.Store, formats: dict[str, str], lazy: bool = False
                    ) -> Iterator[tuple[str, RowFormat, Any]]:
    commit = manifest["commit"]
    for mode_oid_path in g.ls_tree(commit):
        path = mode_oid_path[2]
        fmt = format_for(path, formats)
        top = path.split("/", 1)[0]
        if top not in manifest["data"] or path.startswith(("data/_validation/", "data/split/")) \
                or fmt not in (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL, RowFormat.PARQUET):
            continue
        if lazy and fmt is not RowFormat.PARQUET:
            yield path, fmt, None  # the caller reads what it needs
            continue
        yield path, fmt, logged_source(repo, commit, path, store)  # streamed (atk19-07)


def _no_training(manifest: dict[str, Any]) -> UsageError:
    return UsageError(f"{manifest['tag']}: no CSV/TSV/JSONL training data in its data "
                      f"folders ({', '.join(manifest['data']) or 'none'}).")


def column_chunks(source: Any, fmt: RowFormat | None, name: str, fast: bool = True,
                  rows: int = CHUNK_ROWS, text: Collection[str] = ()
                  ) -> Iterator[dict[str, Any]]:
    """Column name -> values, `rows` rows at a time. With pandas installed (the `fast`
    extra) and `fast`, CSV/TSV go through its C parser (the `text` columns as strings, no
    type guessed); otherwise through the csv module (all strings). Parquet is read in record
    batches by pyarrow (the `parquet` extra)."""
    if fmt is RowFormat.PARQUET:
        yield from _parquet_chunks(source)
        return
    if fmt in (RowFormat.CSV, RowFormat.TSV) and fast:
        try:
            import pandas as pd
        except ImportError:
            pd = None
        if pd is not None:
            with source() as f:
                width = _width(f.readline(MAX_HEADER + 1), fmt, name)
                f.seek(0)
                reader = pd.read_csv(f, sep="\t" if fmt is RowFormat.TSV else ",",
                                     na_values=[""], keep_default_na=False,
                                     chunksize=min(rows, max(1, CELLS // width)),
                                     dtype=dict.fromkeys(text, str))
                for frame in reader:  # numbers parsed in C; other columns stay strings
                    yield {c: frame[c].to_numpy() for c in frame.columns}
            return
    table = read_table(source(), fmt, name)
    width = len(table.columns)
    if width > MAX_COLUMNS:
        raise UsageError(f"{name}: it has {width:,} columns, more than the {MAX_COLUMNS:,} "
                         "branchml reads" + FIX)
    for chunk in _chunks(table.rows, min(rows, max(1, CELLS // max(width, 1)))):
        columns = list(zip(*chunk, strict=False))
        yield {c: columns[i] for i, c in enumerate(table.columns) if i < len(columns)}


def _width(header: bytes, fmt: RowFormat, name: str) -> int:
    """The header's column count (a delimiter inside quotes counts too: an upper bound),
    refused past MAX_COLUMNS or MAX_HEADER bytes (atk19-07: 320,000 columns peaked at
    1.36 GB in pandas, though only the training columns are used)."""
    if len(header) > MAX_HEADER:
        raise UsageError(f"{name}: its header is longer than {MAX_HEADER >> 20} MiB" + FIX)
    width = header.count(fmt.delimiter) + 1
    if width > MAX_COLUMNS:
        raise UsageError(f"{name}: it has {width:,} columns, more than the {MAX_COLUMNS:,} "
                         "branchml reads" + FIX)
    return width


def _parquet_chunks(source: Any) -> Iterator[dict[str, Any]]:
    import pyarrow as pa

    pq = pyarrow_parquet()
    with source() as f:
        parquet = pq.ParquetFile(f)
        for batch in parquet.iter_batches(batch_size=CHUNK_ROWS):
            out: dict[str, Any] = {}
            for name, col in zip(batch.schema.names, batch.columns, strict=True):
                if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
                    out[name] = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
                else:
                    out[name] = ["" if v is None else str(v) for v in col.to_pylist()]
            yield out


def _chunks(rows: Iterator[list[str]], size: int = CHUNK_ROWS) -> Iterator[list[list[str]]]:
    chunk: list[list[str]] = []
    for r in rows:
        chunk.append(r)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def values(tracker: Any, column: Any, name: str, path: str) -> Any:
    if tracker is drift.CategoricalFeature or isinstance(tracker, drift.CategoricalFeature):
        return ["" if v is None or v != v else str(v) for v in column]  # NaN: missing
    return floats(column, name, path)


def floats(column: Any, name: str, path: str) -> Any:
    """The column as floats (empty: NaN), |x| > MAX_MAGNITUDE as NaN: counted as missing."""
    import numpy as np

    if getattr(column, "dtype", None) is not None and column.dtype.kind in "fiu":
        return _bounded(column.astype(float, copy=False))
    try:  # Python's float() per value: several times faster than NumPy's str -> float cast
        return _bounded(np.fromiter((_NAN if v is None or v != v or v == "" else float(v)
                                     for v in column), float, len(column)))
    except (ValueError, TypeError):
        bad = next(v for v in column if v is not None and v == v and v != ""
                   and not _is_float(v))
        raise UsageError(f"{path}: column {name} is numeric in the training data, but holds "
                         f"{bad!r}" + FIX) from None


_NAN = float("nan")
# atk19-11: a square of 1.7e308 overflows the moments (mean/std NaN, JSON with NaN). Below
# 1e100 the sums of squared deviations stay finite for any row count; no real feature or
# prediction is that large, so beyond it a value counts as missing, as an infinite one does.
MAX_MAGNITUDE = 1e100


def _bounded(xs: Any) -> Any:
    import numpy as np

    huge = np.abs(xs) > MAX_MAGNITUDE
    return np.where(huge, _NAN, xs) if huge.any() else xs


def _is_float(v: Any) -> bool:
    try:
        float(v)
    except (ValueError, TypeError):
        return False
    return True
