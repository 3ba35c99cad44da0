"""`monitor check --window 1d|7d|12h`: the drift statistics per time window, so drift shows
when it started. A row's window comes from its file's timestamp column when the file has
one (the timestamp role, declared or detected, else a column named `timestamp`), else from
the date the file was logged (the DATE folder of monitoring/CLIENT/TAG/DATE/FILE): each file
decides for itself, so files with and without the column can be windowed together.

Windows sit on a grid that starts at midnight UTC of the first row's day (1d: calendar days in
UTC; 7d: weeks from the first day; 12h: midnight and noon UTC); empty windows are left out.
Each window holds `tracker.fresh(coarse=True)` per feature (bin counts, no sample), and there
are at most MAX_WINDOWS of them, so memory stays bounded whatever the number of rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from branchml.core import drift
from branchml.errors import UsageError
from branchml.ops.monitortables import floats, values

MAX_WINDOWS = 1_000
DAY = 86_400
_SIZE = re.compile(r"([1-9][0-9]{0,4})([dh])")
# statistics that describe a whole distribution: the overall result carries them, a window not
_SHAPES = ("hist", "edges", "train_hist", "categories")


@dataclass(frozen=True)
class WindowSize:
    text: str  # "7d"
    seconds: int


def window_size(text: str) -> WindowSize:
    """`Nd` or `Nh`; anything else is refused (exit 2) before the check reads a file."""
    m = _SIZE.fullmatch(text.strip())
    if m is None:
        raise UsageError(f"--window {text!r} is not a window size; give a number of days or "
                         "hours such as 1d, 7d or 12h.")
    n, unit = int(m[1]), m[2]
    return WindowSize(f"{n}{unit}", n * (DAY if unit == "d" else 3_600))


def timestamp_column(mon: dict[str, Any]) -> str:
    """The column `monitor.columns` declares as the timestamp, else `timestamp`."""
    declared = mon.get("columns") or {}
    named = [c for c, role in declared.items() if role == "timestamp"] \
        if isinstance(declared, dict) else []
    return str(named[0]) if named else "timestamp"


@dataclass
class _Window:
    trackers: dict[str, Any]
    rows: int = 0
    pred: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # n, sum, sum of squares


class Windows:
    """Per-window accumulators, fed the same chunks as the overall trackers."""

    def __init__(self, size: WindowSize, trackers: dict[str, Any], mon: dict[str, Any],
                 prediction: str, prefix: str, column: str | None = None) -> None:
        """`column`: the timestamp column the roles found (declared or detected), if any."""
        self.size, self.trackers, self.prediction = size, trackers, prediction
        self.column, self.prefix = column or timestamp_column(mon), prefix
        self.by: set[str] = set()  # how rows were windowed: the column name, "" logged date
        self.origin: float | None = None
        self.open: dict[int, _Window] = {}
        self.unparsed = 0
        self.too_many = False

    def add(self, columns: dict[str, Any], path: str) -> None:
        n = len(next(iter(columns.values()), ()))
        # each file (chunk) decides: its timestamp column when it has one, else its logged
        # date; the first file deciding put every row of the others in no window
        by = self.column if self.column in columns else ""
        self.by.add(by)
        secs = _logged(path, self.prefix, n) if by == "" else seconds(columns[by], n)
        ok = ~np.isnan(secs)
        self.unparsed += int(n - ok.sum())
        if not ok.any() or self.too_many:
            return
        if self.origin is None:
            self.origin = float(secs[ok][0] // DAY * DAY)  # midnight UTC of the first row
        index = np.floor((np.where(ok, secs, self.origin) - self.origin) / self.size.seconds)
        rows = np.flatnonzero(ok)  # the chunk's rows grouped by window: one sort, no mask each
        order = rows[np.argsort(index[rows], kind="stable")]
        keys, starts = np.unique(index[order].astype(np.int64), return_index=True)
        if len(self.open.keys() | set(keys.tolist())) > MAX_WINDOWS:
            self.too_many = True  # refused in result(), outside the caller's error handling
            return
        groups = zip(keys.tolist(), np.split(order, starts[1:]), strict=True)
        self._feed(columns, path, groups)

    def _feed(self, columns: dict[str, Any], path: str, groups: Any) -> None:
        prepared = {}
        for name, t in self.trackers.items():
            if name in columns:
                vals = values(t, columns[name], name, path)
                prepared[name] = vals if isinstance(vals, np.ndarray) \
                    else np.asarray(vals, dtype=object)  # categorical: strings
        pred = floats(columns[self.prediction], self.prediction, path) \
            if self.prediction in columns else None
        for key, take in groups:
            w = self.open.get(key) or self.open.setdefault(key, _Window(
                {name: t.fresh(coarse=True) for name, t in self.trackers.items()}))
            w.rows += len(take)
            for name, vals in prepared.items():
                picked = vals[take]
                w.trackers[name].add(picked.tolist() if vals.dtype == object else picked)
            if pred is not None:
                p = pred[take]
                p = p[~np.isnan(p)]
                w.pred = [w.pred[0] + len(p), w.pred[1] + float(p.sum()),
                          w.pred[2] + float((p * p).sum())]

    def attach(self, report: dict[str, Any], limits: dict[str, float],
               mon: dict[str, Any]) -> None:
        """Add `windows` and `window` to the check's result; window alerts, prefixed with the
        window's start, go into its `alerts` too (so they count towards the exit code). Too
        many windows: refused, unless the whole already alerts: then the windows are left out
        with a note, so logged rows spread over many windows cannot hide a drift."""
        if self.too_many and report["alerts"]:
            report.setdefault("notes", []).append(self._too_many() + " The windows are left "
                                                  "out; the alerts above stand.")
            report.update({"windows": [], "window": {"size": self.size.text, "by": "",
                                                      "unparsed": self.unparsed}})
            return
        report.update(self.result(report["features"], limits, mon))
        found = [a for w in report["windows"] for a in w["alerts"]]
        report["alerts"] = [*report["alerts"], *found]
        if "verdict" in report:
            report["verdict"] = "drift" if report["alerts"] else "no drift"
        if isinstance(report.get("counters"), dict):
            report["counters"]["alerts"] = len(report["alerts"])
            # a feature drifted when it alerts overall OR in any window: "18 alerts" must not
            # sit beside "0 drifted"
            report["counters"]["drifted"] = len(
                {f["feature"] for f in report["features"] if f["alerts"]}
                | {f["feature"] for w in report["windows"] for f in w["features"]
                   if f["alerts"]})

    def _too_many(self) -> str:
        return (f"--window {self.size.text} makes more than {MAX_WINDOWS:,} windows of this "
                f"data; give a wider window such as {wider(self.size)}.")

    def result(self, features: list[dict[str, Any]], limits: dict[str, float],
               mon: dict[str, Any]) -> dict[str, Any]:
        if self.too_many:
            raise UsageError(self._too_many())
        applied = {f["feature"]: f.get("thresholds") or {
            **limits, **((mon.get("features") or {}).get(f["feature"]) or {})}
            for f in features}
        out = [self._window(key, w, applied) for key, w in sorted(self.open.items())]
        by = f"timestamp column {self.column}" if self.column in self.by else "logged date"
        if len(self.by) > 1:
            by += " (logged date for files without it)"
        return {"windows": out, "window": {"size": self.size.text, "by": by,
                                           "unparsed": self.unparsed}}

    def _window(self, key: int, w: _Window, applied: dict[str, dict[str, float]]
                ) -> dict[str, Any]:
        assert self.origin is not None
        start = self.origin + key * self.size.seconds
        label = stamp(start, self.size)
        feats, found = [], []
        for name, tracker in w.trackers.items():
            r = {k: v for k, v in tracker.result().items() if k not in _SHAPES}
            r["alerts"] = [f"window {label}: {a}" for a in drift.alerts(r, applied.get(
                name, {}))]
            found.extend(r["alerts"])
            feats.append(r)
        n, total, squares = w.pred
        mean = total / n if n else None
        std = float(np.sqrt(max(squares / n - mean * mean, 0.0))) if mean is not None else None
        return {"start": label, "end": stamp(start + self.size.seconds, self.size),
                "rows": w.rows, "features": feats,
                "prediction": {"mean": mean, "std": std, "rows": int(n)}, "alerts": found}


def seconds(column: Any, n: int) -> Any:
    """Seconds since 1970 UTC per value: ISO 8601 text (a date, or a date and time; without
    an offset it is UTC) or a number (Unix seconds); NaN where a value does not parse."""
    if column is None:
        return np.full(n, np.nan)
    if getattr(column, "dtype", None) is not None and column.dtype.kind in "fiu":
        out = column.astype(float)
    else:
        out = np.fromiter((_parse(v) for v in column), dtype=float, count=n)
    # a time before 1970 or from 2200 on (1e18, inf, year 9999: a logged value nobody checked)
    # is in no window, as an unparsed one: a window's dates must stay printable
    out[~((out >= 0) & (out < LATEST))] = np.nan
    return out


LATEST = 7_258_118_400.0  # 2200-01-01T00:00Z


def _parse(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)  # NaN (a missing value) stays NaN
    text = str(value).strip()
    try:
        t = datetime.fromisoformat(text)
        return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError):
        try:
            return float(text)
        except ValueError:
            return float("nan")


def _logged(path: str, prefix: str, n: int) -> Any:
    try:
        day = date.fromisoformat(path[len(prefix):].split("/", 1)[0])
    except ValueError:
        return np.full(n, np.nan)  # not a DATE folder: in no window
    return np.full(n, float(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()))


def stamp(secs: float, size: WindowSize) -> str:
    t = datetime.fromtimestamp(secs, UTC)
    return t.date().isoformat() if size.seconds % DAY == 0 \
        else t.strftime("%Y-%m-%dT%H:%MZ")


def wider(size: WindowSize) -> str:
    hours = size.seconds // 3_600 * 10
    return f"{hours}h" if hours < 24 else f"{-(-hours // 24)}d"
