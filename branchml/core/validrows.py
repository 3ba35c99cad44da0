"""`pull --validate`, row by row: why one row is dropped (it does not parse as its format, or
fails the schema), and the bounded record of every row dropped (docs/data-moves.md).

Rows are read as every other door reads them (core/rows.py). Pure: the schema check is a
function passed in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from branchml.core.rows import BOM, BadRow, RowFormat, csv_fields

SchemaCheck = Callable[[Any], str | None]  # a row as an object -> why it fails, or None
MAX_LISTED = 1000  # rows named in one report; the rest are counted (a file of a million bad
#                    rows must not fill memory or the committed report)
SHOWN = 80  # characters of a dropped row kept in the report, to find it by


class RowJudge:
    """Why a row of a CSV/TSV/JSONL/text file is dropped, or None to keep it."""

    def __init__(self, fmt: RowFormat, header: bytes | None, schema: SchemaCheck | None) -> None:
        self.fmt = fmt
        self.schema = schema
        self.names: list[str] = []
        if fmt.has_header and header is not None:
            self.names = csv_fields(header.removeprefix(BOM), fmt)  # BadRow: the caller's

    def __call__(self, record: bytes) -> str | None:
        obj: Any = None
        if self.fmt is RowFormat.JSONL:
            try:
                obj = json.loads(record)
            except (ValueError, RecursionError):
                return "not valid JSON"
        elif self.fmt.has_header:
            try:
                fields = csv_fields(record, self.fmt)
            except BadRow as e:
                return f"not one {self.fmt.value.upper()} row: {e}"
            if len(fields) != len(self.names):
                return f"{len(fields)} fields, the header has {len(self.names)}"
            obj = {k: _number(v) for k, v in zip(self.names, fields, strict=True)}
        else:
            try:
                record.decode("utf-8")
            except UnicodeDecodeError:
                return "not valid UTF-8 text"
            return None
        return self.schema(obj) if self.schema is not None else None


def _number(v: str) -> Any:
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


class DropLog:
    """Every dropped row, per file: the first MAX_LISTED of the whole report named (row
    number, reason, its start), all of them counted."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.counts: dict[str, int] = {}
        self.listed = 0

    def add(self, path: str, n: int, reason: str, record: bytes, new: bool = False) -> None:
        """Row `n` of a new file, or with `new` the n-th of theirs' new rows of an appended
        file (counted from 1 after the rows the destination already holds)."""
        self.counts[path] = self.counts.get(path, 0) + 1
        if self.listed < MAX_LISTED:
            self.listed += 1
            self.rows.setdefault(path, []).append(
                {"new_row" if new else "row": n, "reason": reason,
                 "text": record[:SHOWN].decode("utf-8", "replace")})

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self, path: str, appended: bool = False) -> str:
        n = self.counts[path]
        return f"{n} {'new ' if appended else ''}row(s) dropped"

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "rows_dropped": self.counts,
                "rows_not_listed": self.total - self.listed}
