"""Column roles for `monitor log` and `monitor check`: which training columns are features
(scored for drift) and which are not (an id, a timestamp, the label, the prediction, or a
column to ignore). Declared in the trusted config (`monitor.columns`, `monitor.target`,
`monitor.prediction`); ids and timestamps not declared are detected from the training values.

Detection looks only at the training table (the release's data, committed by the team), never
at monitored files: production data cannot choose which columns are scored."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from branchml.errors import ConfigError

ROLES = ("id", "timestamp", "target", "prediction", "ignore")
SYNONYMS = {"key": "id"}
MAY_BE_ABSENT = frozenset({"id", "timestamp", "target", "ignore"})  # from monitored files
SAMPLE_ROWS = 10_000  # detection reads at most the first this many training rows
MIN_ID_ROWS = 20  # fewer rows than this say nothing about uniqueness: no id is detected

# The last word of a name that says "this is an identifier" (`id`, `customer_id`, `userId`,
# `row`, `order_key`); pandas' written-out index is the empty name or `Unnamed: 0`.
ID_WORDS = frozenset({"id", "ids", "key", "uuid", "guid", "index", "idx", "row", "rowid",
                      "rownum", "pk"})
_WORDS = re.compile(r"[a-z0-9]+")
_UNNAMED = re.compile(r"unnamed: \d+")
# ISO 8601 dates and date-times (`T` or a space between), as pandas writes datetime64 columns:
# 2026-01-02, 2026-01-02 10:00:00, 2026-01-02T10:00:00.123456789+00:00, ...Z
_WHEN = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
                   r"(?:Z|[+-]\d{2}(?::?\d{2})?)?)?")


@dataclass(frozen=True)
class LeftOut:
    """A training column that is not scored, with why."""

    column: str
    role: str
    declared: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "role": self.role, "declared": self.declared,
                "reason": self.reason}


@dataclass(frozen=True)
class Roles:
    """The declared roles: column -> (role, where it was declared)."""

    declared: Mapping[str, tuple[str, str]]
    prediction: str

    def role(self, column: str) -> str | None:
        found = self.declared.get(column)
        return found[0] if found else None


def declared_roles(mon: Mapping[str, Any], source: str = "branchml.yaml") -> Roles:
    """The roles `monitor.columns`, `monitor.target` and `monitor.prediction` give. A column
    given two different roles is refused; `monitor.columns` naming the prediction column wins
    over `monitor.prediction` (whose `prediction` is written in every new config). `source`
    names the file in the refusal (config validation passes its own)."""
    table = {str(c): SYNONYMS.get(str(r), str(r)) for c, r in (mon.get("columns") or {}).items()}
    out: dict[str, tuple[str, str]] = {c: (r, "monitor.columns") for c, r in table.items()}
    preds = sorted(c for c, r in table.items() if r == "prediction")
    if len(preds) > 1:
        raise ConfigError(f"{source}: monitor.columns names {len(preds)} prediction "
                          f"columns ({', '.join(preds)}); name one.")
    prediction = preds[0] if preds else str(mon.get("prediction") or "prediction")
    target = mon.get("target")
    for key, column, role in (("monitor.target", target, "target"),
                              ("monitor.prediction", None if preds else prediction,
                               "prediction")):
        if column is None:
            continue
        given = out.get(str(column))
        if given is not None and given[0] != role:
            raise ConfigError(f"{source}: {key} names {column}, but monitor.columns gives "
                              f"it the role {given[0]}; give the column one role.")
        out.setdefault(str(column), (role, key))
    return Roles(out, prediction)


def left_out(columns: Sequence[str], sample: Mapping[str, Any], roles: Roles) -> list[LeftOut]:
    """The training columns not scored: declared ones, then ids and timestamps detected over
    `sample` (column -> its values on the first training rows, at most SAMPLE_ROWS)."""
    out: list[LeftOut] = []
    for column in columns:
        given = roles.declared.get(column)
        if given is not None:
            out.append(LeftOut(column, given[0], True, f"declared by {given[1]}"))
            continue
        found = detect(column, sample.get(column, ()))
        if found is not None:
            out.append(LeftOut(column, found[0], False, found[1]))
    return out


def detect(name: str, values: Any) -> tuple[str, str] | None:
    """(role, reason) when the training values say `name` is an id or a timestamp. An id: a
    non-numeric column with a distinct value on every row, or a whole-number column with a
    distinct value on every row whose name looks like an id or whose values are consecutive.
    A timestamp: every non-empty value an ISO 8601 date or date-time. A column of fractional
    numbers is never left out, however distinct its values."""
    if getattr(getattr(values, "dtype", None), "kind", "") == "b":
        return None  # True/False: two categories
    items = values.tolist() if hasattr(values, "tolist") else list(values)
    n = len(items)
    numbers = _numbers(values, items)
    if numbers is None:
        present = [v for v in items if not _missing(v)]
        if present and all(isinstance(v, str) and _is_when(v) for v in present):
            return "timestamp", f"every value reads as a date or date-time ({present[0]!r})"
        if n >= MIN_ID_ROWS and len(present) == n and len(set(present)) == n:
            return "id", f"not numeric, and a distinct value on each of {n} training rows"
        return None
    if n < MIN_ID_ROWS or not np.isfinite(numbers).all() or np.any(numbers != np.floor(numbers)) \
            or len(np.unique(numbers)) < n:
        return None  # a gap, a fraction, infinity or a repeat: not an id
    if looks_like_id(name):
        return "id", (f"whole numbers, a distinct value on each of {n} training rows, "
                      "and a name that says id")
    low, high = float(numbers.min()), float(numbers.max())
    if high - low == n - 1:
        return "id", f"whole numbers {low:.0f} to {high:.0f}, consecutive, one per training row"
    return None


def looks_like_id(name: str) -> bool:
    """`id`, `*_id`, `*Id`, `key`, `uuid`, `index`, `row`, ... (the last word of the name, split
    at `_`, `-`, `.`, spaces and lower-to-upper case changes), or pandas' index column."""
    if not name.strip() or _UNNAMED.fullmatch(name.strip().lower()):
        return True
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower()
    words = _WORDS.findall(spaced)
    return bool(words) and words[-1] in ID_WORDS


def _missing(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, float) and math.isnan(v))


def _numbers(values: Any, items: list[Any]) -> Any:
    """The values as floats (NaN where missing), or None when one is not a number."""
    kind = getattr(getattr(values, "dtype", None), "kind", "")
    if kind in ("f", "i", "u"):
        return np.asarray(values, dtype=float)
    if all(type(v) is str for v in items):  # the csv module's strings: converted in C
        text = np.asarray(items, dtype=str)
    elif any(isinstance(v, bool) for v in items):
        return None
    else:
        text = np.asarray(["" if _missing(v) else str(v) for v in items], dtype=str)
    if not (text != "").any():
        return None
    text = text.astype(f"U{max(text.dtype.itemsize // 4, 3)}")  # room for "nan"
    text[text == ""] = "nan"
    try:
        return text.astype(float)
    except ValueError:
        return None


def _is_when(v: str) -> bool:
    if not _WHEN.fullmatch(v):
        return False
    try:
        date.fromisoformat(v[:10])
    except ValueError:
        return False
    return True
