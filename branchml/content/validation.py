"""`branchml pull --validate`: drop bad new items and say why.

Built in: empty files and files that do not parse as a whole (a JSON array, a CSV header)
are dropped; rows that do not parse as their format are dropped one by one. From
branchml.yaml (`validate:`): a JSON Schema every row must pass (a CSV row is an object keyed
by the header, numbers parsed), and a command run on each new file (its path appended;
non-zero drops it). New files keep their good rows, appended files their good new rows; every
dropped row is recorded with its number and reason (core/validrows.py, bounded). The report is
printed and committed beside the data (`data/_validation/pull-<sha>.json`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from branchml.content import strategies
from branchml.content.trustedfiles import TrustedFiles
from branchml.core import rowcheck
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
)
from branchml.core.validrows import DropLog, RowJudge, SchemaCheck
from branchml.errors import UsageError
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
        self.findings: dict[str, str] = {}  # path -> what happened to it, one phrase
        self.log = DropLog()
        self.report: dict[str, Any] = {}  # what `finish` committed, and where
        self.report_path = ""

    def __call__(self, path: str, blob: bytes) -> tuple[bytes | None, str]:
        """(content to keep or None to drop, why) for a new file."""
        data = strategies._read(blob, self.store, path)
        fmt = format_for(path, self.formats)
        why = _whole_file(data, fmt)
        if why is None:
            why = self._command(path, data)
        if why is None and fmt is not None and fmt.streams:
            kept, dropped, rows = self._rows(path, fmt, data)
            if dropped and dropped == rows:
                why = f"every row was dropped ({rows})"
            elif dropped:
                note = self.findings[path] = self.log.summary(path)
                return strategies._store(kept, parse_pointer(blob) is not None, self.store), note
        if why:
            self.findings[path] = why
            return None, why
        return blob, ""

    def _rows(self, path: str, fmt: RowFormat, data: bytes) -> tuple[bytes, int, int]:
        """The file without its bad rows (header and blank rows kept), how many were
        dropped, and how many rows it has (blank ones not counted)."""
        records = numbered_records(data, fmt)
        header = next(records)[1] if fmt.has_header else None
        judge = RowJudge(fmt, header, self._schema_check(path))
        out = [] if header is None else [header]
        dropped = rows = 0
        for n, record in records:
            why = judge(record) if record.strip() else None
            rows += bool(record.strip())
            if why is None:
                out.append(record)
            else:
                dropped += 1
                self.log.add(path, n, why, record)
        term = line_ending(data[:65536])
        return term.join(out) + term, dropped, rows

    def row_filter(self, path: str, fmt: RowFormat) -> RowFilter | None:
        """For an appended file: drops theirs' new rows that do not parse or fail the path's
        schema, each one recorded with its number among theirs' new rows."""
        if not fmt.streams:
            return None
        schema = self._schema_check(path)
        seen = 0

        def keep(rows: list[bytes], header: bytes | None) -> list[bytes]:
            nonlocal seen
            first, seen = seen, seen + len(rows)
            if fmt.has_header and header is None:
                return rows
            if schema is None and _parses(fmt, rows, header, path):
                return rows  # the common case: checked at C speed, no row by row
            try:
                judge = RowJudge(fmt, header, schema)
            except BadRow as e:
                raise UsageError(f"{path}: the header is not one {fmt.value.upper()} row ({e}); "
                                 "fix it on its branch, then pull again.") from None
            good = []
            for n, r in enumerate(rows, start=first + 1):
                why = judge(r) if r.strip() else None
                if why is None:
                    good.append(r)
                else:
                    self.log.add(path, n, why, r, new=True)
            if len(good) == len(rows):
                return rows
            self.findings[path] = self.log.summary(path, appended=True)
            return good
        return keep

    def _schema_check(self, path: str) -> SchemaCheck | None:
        schema = self._schema_for(path)
        return None if schema is None else _row_checker(schema)

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

    def finish(self, repo: Any, tree: Any, theirs: str, policy: Policy) -> Any:
        """The merged tree with the report added, so it is committed beside the data."""
        import pygit2

        self.trusted.cleanup()
        report = self.report = {"pulled": theirs, "dropped": self.findings,
                                "rules": [r.get("glob") for r in self.rules],
                                **self.log.to_dict()}
        path = self.report_path = f"{REPORT_DIR}/pull-{theirs[:10]}.json"
        text = (json.dumps(report, indent=2, sort_keys=True) + "\n").encode()
        blob = repo.create_blob(strategies.blob_for(path, text, policy, self.store))
        index = pygit2.Index()
        index.read_tree(repo[tree])
        index.add(pygit2.IndexEntry(path, blob, pygit2.enums.FileMode.BLOB))
        return index.write_tree(repo)


def _whole_file(data: bytes, fmt: RowFormat | None) -> str | None:
    """Why a new file is dropped whole: empty, a JSON array that does not parse, a CSV/TSV
    header that is not one row. Every other fault is a row's (RowJudge)."""
    if not data.strip():
        return "empty file"
    if fmt is RowFormat.JSON:
        try:
            json.loads(data)
        except (ValueError, RecursionError):
            return "not valid JSON"
    elif fmt is not None and fmt.has_header:
        header = next(numbered_records(data, fmt))[1]
        try:
            csv_fields(header.removeprefix(BOM), fmt)
        except BadRow as e:
            return f"its header (row 1) is not one {fmt.value.upper()} row: {e}"
    return None


def _parses(fmt: RowFormat, rows: list[bytes], header: bytes | None, path: str) -> bool:
    try:
        rowcheck.valid(fmt, rows, header, path)
    except UsageError:
        return False
    return True


def _row_checker(schema: dict[str, Any]) -> SchemaCheck:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)

    def check(obj: Any) -> str | None:
        error = next(validator.iter_errors(obj), None)
        return None if error is None else f"fails the schema: {error.message[:100]}"
    return check
