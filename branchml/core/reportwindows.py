"""The "over time" part of the drift report (only when `monitor check --window` made
windows): a line chart per statistic (one line per feature, the threshold drawn), the
prediction's mean per window, and the table of windows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from branchml.core import driftreport as dr
from branchml.core.reportcharts import PALETTE, line_chart

__all__ = ["unwindowed", "window_rows", "windows", "windows_section"]


def windows(r: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    ws = r.get("windows")
    return [w for w in ws if isinstance(w, Mapping)] if isinstance(ws, list) else []


def window_rows(r: Mapping[str, Any]) -> list[tuple[str, str, str, str, list[str]]]:
    """start, end, rows, prediction mean (as text) and the alerts of each window."""
    out = []
    for w in windows(r):
        mean, rows = dr.number(_prediction(w).get("mean")), dr.number(w.get("rows"))
        out.append((str(w.get("start", "")), str(w.get("end", "")),
                    "" if rows is None else f"{rows:.0f}", dr.shown(mean),
                    [str(a) for a in w.get("alerts") or ()]))
    return out


def _prediction(w: Mapping[str, Any]) -> Mapping[str, Any]:
    return dr.mapping(w.get("prediction"))


def window_title(r: Mapping[str, Any]) -> str:
    w = dr.mapping(r.get("window"))
    size, by = w.get("size"), w.get("by")
    return "Windows" + (f" of {size}" if size else "") + (f" by {by}" if by else "")


def unwindowed(r: Mapping[str, Any]) -> str:
    """A sentence saying how many rows fell in no window, or "" when none did."""
    n = dr.number(dr.mapping(r.get("window")).get("unparsed"))
    if not n:
        return ""
    return (f"{n:,.0f} row(s) fell in no window (a timestamp that does not parse, or a file "
            "without the timestamp column outside a DATE folder): they count in the overall "
            "figures.")


def windows_section(r: Mapping[str, Any]) -> str:
    ws = windows(r)
    if not ws:
        return ""
    starts = [str(w.get("start", "")) for w in ws]
    per_window = [[f for f in w.get("features") or () if isinstance(f, Mapping)] for w in ws]
    names = _feature_names(r, per_window)
    limits = dr.common_limits(list(r.get("features") or []))
    charts = []
    for s in dr.statistics([f for fs in per_window for f in fs]):
        series = [(n, [_value(fs, n, s.key) for fs in per_window]) for n in names]
        series = [(n, vs) for n, vs in series if any(v is not None for v in vs)]
        limit = limits.get(s.key)
        note = "" if limit is not None else " (thresholds differ by feature: see the table)"
        charts.append(_figure(f"over-time-{s.key}", line_chart(starts, series, limit, s.label),
                              f"{s.label} per window{note}", [n for n, _ in series]))
    means = [dr.number(_prediction(w).get("mean")) for w in ws]
    if any(m is not None for m in means):
        charts.append(_figure("over-time-prediction", line_chart(
            starts, [("prediction mean", means)], None, "prediction mean"),
            "Prediction mean per window", []))
    return (f'<h2>Over time</h2><p id="window">{escape(window_title(r))}: '
            f"{len(ws)} window(s). {escape(unwindowed(r))}</p><div class=charts>"
            + "".join(charts) + "</div>" + _table(r))


def _feature_names(r: Mapping[str, Any], per_window: Sequence[Sequence[Mapping[str, Any]]]
                   ) -> list[str]:
    """The features in the order of the main table, then any only windows have."""
    names = [str(f.get("feature")) for f in r.get("features") or ()]
    for fs in per_window:
        names += [str(f.get("feature")) for f in fs if str(f.get("feature")) not in names]
    return names


def _value(features: Sequence[Mapping[str, Any]], name: str, key: str) -> float | None:
    for f in features:
        if str(f.get("feature")) == name:
            return dr.number(f.get(key))
    return None


def _figure(ident: str, svg: str, caption: str, names: Sequence[str]) -> str:
    legend = "".join(f'<li><i style="background:{PALETTE[k % len(PALETTE)]}"></i>'
                     f"{escape(n)}</li>" for k, n in enumerate(names)) if len(names) > 6 else ""
    return (f'<figure id="{ident}" class=time-chart>{svg}<figcaption>{escape(caption)}'
            + (f"<ul class=legend>{legend}</ul>" if legend else "") + "</figcaption></figure>")


def _table(r: Mapping[str, Any]) -> str:
    rows = "".join(
        f'<tr{" class=alert" if alerts else ""}><td class=text data-v="{escape(start)}">'
        f'{escape(start)}</td><td class=text data-v="{escape(end)}">{escape(end)}</td>'
        f'<td data-v="{rows}">{rows}</td><td data-v="{mean}">{mean}</td>'
        f'<td data-v="{len(alerts)}">{len(alerts)}</td><td class=text '
        f'data-v="{escape("; ".join(alerts))}">{escape("; ".join(alerts))}</td></tr>'
        for start, end, rows, mean, alerts in window_rows(r))
    return ('<table id="windows" class="sortable"><thead><tr><th class=text data-type=text>'
            "start</th><th class=text data-type=text>end</th><th data-type=num>rows</th>"
            "<th data-type=num>prediction mean</th><th data-type=num>alerts</th>"
            "<th class=text data-type=text>which</th></tr></thead><tbody>" + rows
            + "</tbody></table>")
