"""`branchml pull --validate`: drop bad new items and say why.

Built in: empty files, files that do not parse as their row format. From branchml.yaml
(`validate:`): a JSON Schema every row must pass (a CSV row is an object keyed by the header,
numbers parsed), and a command run on each new file (its path appended; non-zero drops it).
New files keep their good rows; appended rows that fail the schema are dropped one by one.
The report is printed and committed beside the data (`data/_validation/pull-<sha>.json`).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from branchml.content import strategies
from branchml.content.trustedfiles import TrustedFiles
from branchml.core.append import RowFilter
from branchml.core.globs import glob_regex
from branchml.core.lfs_pointer import parse_pointer
from branchml.core.policy import Policy
from branchml.core.rows import (
    BOM,
    BadRow,
    RowFormat,
    csv_fields,
    format_for,
    line_ending,
    numbered_records,
    record_batches,
)
from branchml.repo import proc

REPORT_DIR = "data/_validation"


class Validation:
    def __init__(self, repo: Any, store: strategies.Store, cfg: dict[str, Any],
                 trusted: str | None = None) -> None:
        """`trusted`: main's commit at the trusted ref, whose files the commands run among
        (None: an empty folder, so only commands found on PATH can run)."""
        self.repo = repo
        self.store = store
        self.trusted = TrustedFiles(repo.pg, trusted, store.common_dir / "branchml" / "tmp")
        self.rules: list[dict[str, Any]] = list(cfg.get("validate") or [])
        self.formats: dict[str, str] = dict(cfg.get("formats") or {})
        self.findings: dict[str, str] = {}

    def __call__(self, path: str, blob: bytes) -> tuple[bytes | None, str]:
        """(content to keep or None to drop, why) for a new file."""
        data = strategies._read(blob, self.store, path)
        fmt = format_for(path, self.formats)
        why = _empty_or_unparsable(data, fmt)
        if why is None:
            why = self._command(path, data)
        if why:
            self.findings[path] = why
            return None, why
        kept, dropped = self._schema_rows(path, fmt, data)
        if dropped:
            note = f"{dropped} row(s) failed the schema"
            self.findings[path] = note
            return strategies._store(kept, parse_pointer(blob) is not None, self.store), note
        return blob, ""

    def row_filter(self, path: str, fmt: RowFormat) -> RowFilter | None:
        """For an appended file: drops theirs' new rows that fail the path's schema."""
        schema = self._schema_for(path)
        if schema is None or fmt not in (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL):
            return None
        check = _row_checker(schema)

        def keep(rows: list[bytes], header: bytes | None) -> list[bytes]:
            names = _header(fmt, header)
            good = [r for r in rows if check(_as_object(fmt, names, r))]
            if len(good) != len(rows):
                self.findings[path] = f"{len(rows) - len(good)} new row(s) failed the schema"
            return good
        return keep

    def _schema_for(self, path: str) -> dict[str, Any] | None:
        return next((r["schema"] for r in self.rules
                     if "schema" in r and glob_regex(r["glob"]).match(path)), None)

    def _command(self, path: str, data: bytes) -> str | None:
        for rule in self.rules:
            if "command" not in rule or not glob_regex(rule["glob"]).match(path):
                continue
            tmp_dir = self.store.common_dir / "branchml" / "tmp"
            tmp_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=tmp_dir, suffix=Path(path).suffix) as f:
                f.write(data)
                f.flush()
                # run among main's files, never the working tree's (any branch may be out)
                r = proc.run([*rule["command"], f.name], cwd=self.trusted.path, check=False)
            if r.returncode != 0:
                said = (r.stderr or r.stdout).decode(errors="replace").strip().splitlines()
                return (f"`{' '.join(rule['command'])}` exited {r.returncode}"
                        + (f": {said[0]}" if said else ""))
        return None

    def _schema_rows(self, path: str, fmt: RowFormat | None, data: bytes) -> tuple[bytes, int]:
        """A new file's rows that pass the schema (its header kept), and how many did not."""
        keep = self.row_filter(path, fmt) if fmt is not None else None
        if keep is None or fmt is None:
            return data, 0
        term = line_ending(data[:65536])
        rows = [r for batch in record_batches(io.BytesIO(data), fmt.has_header) for r in batch]
        header = rows[0] if fmt.has_header and rows else None
        body = [r for r in (rows[1:] if header is not None else rows) if r.strip()]
        kept = keep(body, header)
        out = ([header] if header is not None else []) + kept
        return term.join(out) + term if out else b"", len(body) - len(kept)

    def finish(self, repo: Any, tree: Any, theirs: str, policy: Policy) -> Any:
        """The merged tree with the report added, so it is committed beside the data."""
        import pygit2

        self.trusted.cleanup()
        report = {"pulled": theirs, "dropped": self.findings,
                  "rules": [r.get("glob") for r in self.rules]}
        path = f"{REPORT_DIR}/pull-{theirs[:10]}.json"
        text = (json.dumps(report, indent=2, sort_keys=True) + "\n").encode()
        blob = repo.create_blob(strategies.blob_for(path, text, policy, self.store))
        index = pygit2.Index()
        index.read_tree(repo[tree])
        index.add(pygit2.IndexEntry(path, blob, pygit2.enums.FileMode.BLOB))
        return index.write_tree(repo)


def _empty_or_unparsable(data: bytes, fmt: RowFormat | None) -> str | None:
    if not data.strip():
        return "empty file"
    if fmt is None or fmt in (RowFormat.SQLITE, RowFormat.PARQUET):
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "not valid UTF-8 text"
    if fmt in (RowFormat.CSV, RowFormat.TSV):
        # rows read as pull and split read them (core/rows.py): a CR alone ends no row
        records = numbered_records(data, fmt)
        width = -1
        for n, record in records:
            try:
                fields = csv_fields(record.removeprefix(BOM) if n == 1 else record, fmt)
            except BadRow as e:
                return f"row {n} is not one {fmt.value.upper()} row: {e}"
            if n == 1:
                width = len(fields)
            elif record and len(fields) != width:
                return f"row {n} has {len(fields)} fields, the header has {width}"
    elif fmt is RowFormat.JSONL:
        for n, record in numbered_records(data, fmt):
            if record.strip():
                try:
                    json.loads(record)
                except (ValueError, RecursionError):
                    return f"line {n} is not valid JSON"
    elif fmt is RowFormat.JSON:
        try:
            json.loads(text)
        except ValueError:
            return "not valid JSON"
    return None


def _header(fmt: RowFormat, header: bytes | None) -> list[str]:
    if header is None or fmt is RowFormat.JSONL:
        return []
    return next(csv.reader([header.decode("utf-8").lstrip("\ufeff").rstrip("\r\n")],
                           delimiter=fmt.delimiter.decode()), [])


def _as_object(fmt: RowFormat, names: list[str], row: bytes) -> Any:
    if fmt is RowFormat.JSONL:
        return json.loads(row)
    values = next(csv.reader([row.decode("utf-8")], delimiter=fmt.delimiter.decode()), [])
    return {k: _number(v) for k, v in zip(names, values, strict=False)}


def _number(v: str) -> Any:
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def _row_checker(schema: dict[str, Any]) -> Callable[[Any], bool]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return lambda obj: bool(validator.is_valid(obj))
