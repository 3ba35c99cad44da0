"""`branchml monitor log` (production rows onto `monitoring`, append-only, one commit built in
memory) and `branchml monitor check` (drift of a release's monitored data against the data it
was trained on, found through its manifest; exit 1 on an alert)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from branchml.content import strategies
from branchml.content.logged import logged_before
from branchml.core import drift
from branchml.core.logcheck import check_logged, check_since, readable
from branchml.core.plan import Checkout, Plan, RefUpdate, Step
from branchml.core.rows import RowFormat, format_for
from branchml.errors import DirtyWorktree, StateError, UsageError
from branchml.ops.release import find, tag_format
from branchml.ops.trusted import load_trusted, trusted_config, trusted_ref
from branchml.ops.userchecks import user_checks
from branchml.repo import apply, objectstore, worktree
from branchml.repo.reader import Git

BRANCH = "monitoring"
CHUNK_ROWS = 50_000
FIX = "; fix the file and log it again."
DEFAULT_LIMITS = {"psi": 0.2, "ks": 0.2, "outside_range": 0.05, "missing": 0.1}


@dataclass
class Table:
    columns: list[str]
    rows: Iterator[list[str]]


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        from branchml.errors import ToolMissing

        raise ToolMissing("Parquet files need pyarrow: pip install 'branchml[parquet]'.") \
            from None
    return pq


def _read_table(data: BinaryIO, fmt: RowFormat | None, name: str) -> Table:
    if fmt is RowFormat.PARQUET:
        pq = _pyarrow_parquet()
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
        lines = (json.loads(ln) for ln in text if ln.strip())
        first = next(lines, None)
        if first is None:
            raise UsageError(f"{name} is empty; log files with rows.")
        cols = list(first)
        return Table(cols, ([str(r.get(c, "")) for c in cols] for lines_ in ([first], lines)
                            for r in lines_))
    raise UsageError(f"{name}: monitored files must be CSV, TSV, JSON lines or Parquet.")


def _training(g: Git, repo: objectstore.Repo, manifest: dict[str, Any], store: strategies.Store,
              formats: dict[str, str]) -> tuple[list[str], dict[str, list[Any]]]:
    """The release's training table (the first CSV/TSV/JSONL header found under its data
    folders, and every file with that header), as column -> chunks of values."""
    commit = manifest["commit"]
    cols: list[str] | None = None
    data: dict[str, list[Any]] = {}
    for mode_oid_path in g.ls_tree(commit):
        path = mode_oid_path[2]
        fmt = format_for(path, formats)
        top = path.split("/", 1)[0]
        if top not in manifest["data"] or path.startswith(("data/_validation/", "data/split/")) \
                or fmt not in (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL, RowFormat.PARQUET):
            continue
        source = strategies._source(repo.read_file(commit, path) or b"", store, path)
        with source() as f:
            header = _read_table(f, fmt, path).columns
        if cols is None:
            cols = header
        elif header != cols:
            continue  # another table: the first one found is the training table
        for chunk in _column_chunks(source, fmt, path):
            for c in cols:
                data.setdefault(c, []).append(chunk.get(c, ()))
    if cols is None:
        raise UsageError(f"{manifest['tag']}: no CSV/TSV/JSONL training data in its data "
                         f"folders ({', '.join(manifest['data']) or 'none'}).")
    return cols, data


@dataclass
class LogReport:
    files: list[str] = field(default_factory=list)
    commit: str = ""
    already: list[str] = field(default_factory=list)  # given files logged before: skipped

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def log(path: Path, client: str, tag: str, files: list[Path], dry_run: bool = False
        ) -> LogReport:
    g, repo = Git(path), objectstore.Repo(path)
    if not dry_run:
        apply.prepare(repo)  # a killed run's files are finished before the dirty check
    fmt_t = tag_format(g)
    rel = find(g, fmt_t, tag)
    if rel.client != client:
        raise UsageError(f"{tag} is a release of {rel.client}, not of {client}.")
    cfg = trusted_config(g)
    mon = cfg.get("monitor") or {}
    policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
    store = strategies.Store(repo.common_dir, repo.root or repo.common_dir)
    assert rel.manifest is not None
    train_cols, train = _training(g, repo, rel.manifest, store, cfg.get("formats") or {})
    tip = repo.branch_target(BRANCH)
    if tip is None:
        raise StateError(f"there is no {BRANCH} branch; `branchml init` creates it.")
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    out: dict[str, bytes] = {}
    already: list[str] = []
    for f in files:
        if not f.is_file():
            raise UsageError(f"{f}: no such file.")
        data = f.read_bytes()
        if not data.strip():
            raise UsageError(f"{f} is empty; log files with a header and rows.")
        fmt = format_for(f.name)
        check_logged(data, fmt, str(f))  # every row, before anything is written
        table = _read_table(io.BytesIO(data), fmt, str(f))
        _check_columns(table.columns, train_cols, mon, str(f))
        _check_numbers(data, fmt, str(f), train, mon)
        dest = f"monitoring/{client}/{tag}/{day}/{f.name}"
        if logged_before(repo, tip, dest, data, fmt, store):
            already.append(str(f))
            continue
        old = repo.read_file(tip, dest)
        if old is not None and fmt is RowFormat.PARQUET:
            raise UsageError(f"{f.name} was logged for {tag} today already, and a Parquet file "
                             "cannot grow in place: log it under another name.")
        if old is not None:
            old_data = strategies._read(old, store, dest)
            body = data.split(b"\n", 1)[1] if fmt is not RowFormat.JSONL else data
            data = old_data + (b"" if old_data.endswith(b"\n") else b"\n") + body
        out[dest] = data  # stored (git-lfs) only once nothing is refused, and not in a dry run
    report = LogReport(sorted(out), already=already)
    if not out:
        return report
    apply.not_busy(repo, BRANCH)
    if repo.head_branch() == BRANCH and repo.root and worktree.dirty(repo.root):
        raise DirtyWorktree(f"{BRANCH} is checked out with uncommitted changes: commit or "
                            "stash them first.")
    with repo.writer(dry_run) as w:  # a dry run's objects (git-lfs ones too) are thrown away
        into = strategies.Store(w.common_dir, store.cwd)
        blobs = {d: strategies.blob_for(d, data, policy, into) for d, data in out.items()}
        report.commit = w.commit_files(tip, blobs, f"branchml monitor log {client} {tag}: "
                                       f"{len(out)} file(s)\n")
    if not dry_run:
        steps: list[Step] = [RefUpdate(f"refs/heads/{BRANCH}", tip, report.commit, "(monitor)")]
        if repo.head_branch() == BRANCH:
            steps.append(Checkout(BRANCH))
        apply.apply(repo, Plan(f"monitor log {client} {tag}", steps))
    return report


def _check_columns(cols: list[str], train: list[str], mon: dict[str, Any], name: str) -> None:
    prediction, target = mon.get("prediction", "prediction"), mon.get("target")
    extra = [c for c in cols if c not in train and c != prediction]
    missing = [c for c in train if c not in cols and c != target]
    if extra or missing:
        parts = []
        if extra:
            parts.append(f"not in the training data: {', '.join(extra)}")
        if missing:
            parts.append(f"training columns missing: {', '.join(missing)}")
        raise UsageError(f"{name}: its columns do not match the training data ("
                         + "; ".join(parts) + ").")


def _check_numbers(data: bytes, fmt: RowFormat | None, name: str, train: dict[str, list[Any]],
                   mon: dict[str, Any]) -> None:
    """Every value of a column that is numeric in the training data (and of the prediction)
    reads as a number: `monitor check` compares them as numbers, so one word there, once on
    the append-only branch, would stop every later check of the release."""
    if fmt not in (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL):
        return
    numeric = {mon.get("prediction", "prediction")}
    for column, chunks in train.items():
        try:
            for chunk in chunks:
                _floats(chunk, column, "")
        except UsageError:
            continue  # categorical
        numeric.add(column)
    for columns in _column_chunks(lambda: io.BytesIO(data), fmt, name):
        for column in numeric & set(columns):
            _floats(columns[column], column, name)


def check(path: Path, tag: str, since: str | None = None) -> dict[str, Any]:
    since = check_since(since)
    g, repo = Git(path), objectstore.Repo(path)
    rel = find(g, tag_format(g), tag)
    assert rel.manifest is not None
    cfg = trusted_config(g)
    mon = cfg.get("monitor") or {}
    store = strategies.Store(repo.common_dir, repo.root or repo.common_dir)
    cols, train = _training(g, repo, rel.manifest, store, cfg.get("formats") or {})
    prediction, target = mon.get("prediction", "prediction"), mon.get("target")
    features = [c for c in cols if c != target]
    trackers = _trackers(features, train)
    tip = repo.branch_target(BRANCH)
    prefix = f"monitoring/{rel.client}/{tag}/"
    paths = sorted(p for _, _, p in (g.ls_tree(tip) if tip else []) if p.startswith(prefix)
                   and (since is None or p[len(prefix):len(prefix) + 10] >= since))
    if not paths:
        raise UsageError(f"nothing is monitored for {tag} yet (no files under {prefix} on "
                         f"{BRANCH}); log some with `branchml monitor log`.")
    preds: list[float] = []
    rows_seen = 0
    for p in paths:
        source = strategies._source(repo.read_file(tip, p) or b"", store, p)
        try:
            for columns in readable(_column_chunks(source, format_for(p), p), p, BRANCH):
                rows_seen += len(next(iter(columns.values()), ()))
                for name, tracker in trackers.items():
                    if name in columns:
                        tracker.add(_values(tracker, columns[name], name, p))
                if prediction in columns:
                    preds.extend(_floats(columns[prediction], prediction, p).tolist()
                                 [: max(0, drift.SAMPLE - len(preds))])
        except UsageError as e:  # a word in a numeric column, logged before values were checked
            raise StateError(str(e).removesuffix(FIX) + f" on {BRANCH}; check only the days "
                             "after it with --since YYYY-MM-DD.") from None
    limits = {**DEFAULT_LIMITS, **(mon.get("thresholds") or {})}
    results, found = [], []
    for name, tracker in trackers.items():
        r = tracker.result()
        r["alerts"] = drift.alerts(r, {**limits, **((mon.get("features") or {}).get(name) or {})})
        found.extend(r["alerts"])
        results.append(r)
    found.extend(user_checks(g, trackers))
    import numpy as np

    pred = np.asarray(preds, dtype=float)
    return {"tag": tag, "files": paths, "rows": rows_seen, "features": results,
            "prediction": {"column": prediction, "mean": float(np.nanmean(pred)) if len(pred)
                           else None, "std": float(np.nanstd(pred)) if len(pred) else None},
            "alerts": found}


def _trackers(features: list[str], data: dict[str, list[Any]]) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {}
    for name in features:
        chunks = data.get(name) or []
        try:
            values = np.concatenate([_floats(c, name, "") for c in chunks]) if chunks \
                else np.empty(0)
            out[name] = drift.NumericFeature(name, values[~np.isnan(values)])
        except UsageError:
            raw = [v for c in chunks for v in _values(drift.CategoricalFeature, c, name, "")]
            out[name] = drift.CategoricalFeature(name, raw)
    return out


def _column_chunks(source: Any, fmt: RowFormat | None, name: str
                   ) -> Iterator[dict[str, Any]]:
    """Column name -> values, CHUNK_ROWS rows at a time. With pandas installed (the `fast`
    extra), CSV/TSV go through its C parser; otherwise through the csv module. Parquet is read
    in record batches by pyarrow (the `parquet` extra)."""
    if fmt is RowFormat.PARQUET:
        yield from _parquet_chunks(source)
        return
    if fmt in (RowFormat.CSV, RowFormat.TSV):
        try:
            import pandas as pd
        except ImportError:
            pd = None
        if pd is not None:
            with source() as f:
                reader = pd.read_csv(f, sep="\t" if fmt is RowFormat.TSV else ",",
                                     na_values=[""], keep_default_na=False,
                                     chunksize=CHUNK_ROWS)
                for frame in reader:  # numbers parsed in C; other columns stay strings
                    yield {c: frame[c].to_numpy() for c in frame.columns}
            return
    table = _read_table(source(), fmt, name)
    for chunk in _chunks(table.rows):
        columns = list(zip(*chunk, strict=False))
        yield {c: columns[i] for i, c in enumerate(table.columns) if i < len(columns)}


def _parquet_chunks(source: Any) -> Iterator[dict[str, Any]]:
    import pyarrow as pa

    pq = _pyarrow_parquet()
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


def _chunks(rows: Iterator[list[str]]) -> Iterator[list[list[str]]]:
    chunk: list[list[str]] = []
    for r in rows:
        chunk.append(r)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _values(tracker: Any, column: Any, name: str, path: str) -> Any:
    if tracker is drift.CategoricalFeature or isinstance(tracker, drift.CategoricalFeature):
        return ["" if v is None or v != v else str(v) for v in column]  # NaN: missing
    return _floats(column, name, path)


def _floats(column: Any, name: str, path: str) -> Any:
    import numpy as np

    if getattr(column, "dtype", None) is not None and column.dtype.kind in "fiu":
        return column.astype(float, copy=False)
    arr = np.array(["" if v is None or v != v else v for v in column], dtype=str)
    arr[arr == ""] = "nan"
    try:
        return arr.astype(float)
    except ValueError:
        bad = next(v for v in column if v != "" and not _is_float(v))
        raise UsageError(f"{path}: column {name} is numeric in the training data, but holds "
                         f"{bad!r}" + FIX) from None


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True
