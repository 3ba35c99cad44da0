"""The drift report as ONE self-contained HTML page: inline CSS, a small inline script (the
table sort) and inline SVG charts; nothing is fetched when it opens (no CDN, no font, no
image), so it opens from a CI artifact or a mail attachment. Every name from the data is
escaped: a column called `<script>` is text on the page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from branchml.core import driftreport as dr
from branchml.core.reportcharts import PALETTE, Series, histogram, tick
from branchml.core.reportwindows import windows_section

__all__ = ["page"]

CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{margin-bottom:.2em}.verdict{padding:.8em 1em;border-radius:6px;margin:1em 0}
.verdict.drift{background:#ffe3e3;border:1px solid #c92a2a}
.verdict.nodrift{background:#ebfbee;border:1px solid #2b8a3e}.verdict b{font-size:1.4em}
.counters{display:flex;gap:1.5em;flex-wrap:wrap;margin:.5em 0 0;padding:0;list-style:none}
.counters span{display:block;font-size:1.3em;font-weight:600}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:3px 8px;border-bottom:1px
solid #ddd;text-align:right;vertical-align:top}td.text,th.text{text-align:left}
th{cursor:pointer;background:#f1f3f5;user-select:none}th[aria-sort=ascending]::after{content:" ▲"}
th[aria-sort=descending]::after{content:" ▼"}th small,td small{color:#666;font-weight:normal}
td.alert{background:#ffc9c9;font-weight:600}tr.alert td.name{color:#c92a2a}
.charts{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0;border:1px solid #eee;padding:.5em}
figcaption{font-size:.9em;max-width:440px}ul.legend{list-style:none;padding:0;font-size:.85em}
ul.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}"""

# numeric sort for numbers (data-v holds the exact value), text for names; empty cells last
SCRIPT = """document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.tabIndex = 0;
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); th.click(); }
    });
    th.addEventListener("click", function () {
      var up = th.getAttribute("aria-sort") !== "ascending";
      var num = th.getAttribute("data-type") === "num";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var d = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
        return up ? d : -d;
      });
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});"""


def page(r: Mapping[str, Any]) -> str:
    tag = escape(str(r.get("tag", "")))
    features = list(r.get("features") or [])
    body = [f"<h1>Drift of {tag}</h1>", _verdict(r), _table(features, dr.sampled_figures(r)),
            _alerts(r), _notes(r), _charts(features), _prediction(r), windows_section(r),
            _left_out(r), _sampled(r), _files(r)]
    return ("<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>Drift of {tag}</title><style>{CSS}</style></head><body>"
            + "\n".join(b for b in body if b) + f"<script>{SCRIPT}</script></body></html>\n")


def _verdict(r: Mapping[str, Any]) -> str:
    v, c = dr.verdict(r), dr.counters(r)
    names = (("features", "features scored"), ("drifted", "drifted"), ("left_out", "left out"),
             ("alerts", "alerts"), ("rows", "rows"), ("files", "files"))
    items = "".join(f'<li id="count-{k}"><span>{c[k]}</span>{label}</li>' for k, label in names)
    return (f'<section id="verdict" class="verdict {escape(v.replace(" ", ""))}"><b>'
            f"{escape(v.capitalize())}</b><ul class=counters>{items}</ul></section>")


def _table(features: Sequence[Mapping[str, Any]], sampled: Sequence[str]) -> str:
    if not features:
        return "<p>No feature was scored.</p>"
    stats, limits = dr.statistics(features), dr.common_limits(features)
    head = ['<th class=text data-type=text>feature</th><th class=text data-type=text>kind</th>'
            "<th data-type=num>rows</th>"]
    for s in stats:
        limit = (f"<br><small>{escape(s.limit_text(limits[s.key]))}</small>"
                 if s.key in limits else "")
        mark = "<br><small>sampled</small>" if s.key in sampled else ""
        head.append(f"<th data-type=num>{escape(s.label)}{limit}{mark}</th>")
    head.append("<th class=text data-type=text>alerts</th>")
    rows = [_row(f, stats, limits) for f in features]
    return ('<h2>Features</h2><p>Click a column header to sort. Thresholds under the '
            "statistic's name; a red cell is over its threshold.</p>"
            '<table id="features" class="sortable"><thead><tr>' + "".join(head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _row(f: Mapping[str, Any], stats: Sequence[dr.Statistic], limits: Mapping[str, float]
         ) -> str:
    name, alerts = str(f.get("feature", "")), [str(a) for a in f.get("alerts") or ()]
    cells = [f'<td class="text name" data-v="{escape(name)}">{escape(name)}</td>',
             f'<td class=text data-v="{escape(str(f.get("kind", "")))}">'
             f'{escape(str(f.get("kind", "")))}</td>', _count(dr.number(f.get("rows")))]
    for s in stats:
        own = dr.number(dr.thresholds(f).get(s.key))
        note = s.limit_text(own) if own is not None and own != limits.get(s.key) else ""
        cells.append(_num(dr.number(f.get(s.key)), own, dr.is_alert(f, s.key), note))
    text = "; ".join(alerts)
    cells.append(f'<td class=text data-v="{escape(text)}">{escape(text)}</td>')
    return f"<tr{' class=alert' if alerts else ''}>" + "".join(cells) + "</tr>"


def _num(value: float | None, limit: float | None, alert: bool = False, note: str = "") -> str:
    small = f" <small>({escape(note)})</small>" if note else ""
    v = "" if value is None else repr(value)
    return (f'<td{" class=alert" if alert else ""} data-v="{v}">'
            f"{escape(dr.shown(value, limit))}{small}</td>")


def _count(value: float | None) -> str:
    v = "" if value is None else f"{value:.0f}"
    return f'<td data-v="{v}">{v}</td>'


def _alerts(r: Mapping[str, Any]) -> str:
    alerts = [str(a) for a in r.get("alerts") or ()]
    if not alerts:
        return ""
    return ('<h2>Alerts</h2><ul id="alerts">'
            + "".join(f"<li>{escape(a)}</li>" for a in alerts) + "</ul>")


def _shares(counts: Any) -> list[float]:
    nums = [dr.number(c) or 0.0 for c in counts] if isinstance(counts, list) else []
    total = sum(nums)
    return [c / total if total else 0.0 for c in nums]


def _ticks(f: Mapping[str, Any], n: int) -> list[str]:
    edges, cats = f.get("edges"), f.get("categories")
    if isinstance(edges, list) and len(edges) == n + 1:
        return [tick(dr.number(e) or 0.0) for e in edges]
    if isinstance(cats, list) and len(cats) == n:
        return [str(c) for c in cats]
    if f.get("kind") == "categorical" and n:  # older results: training categories + other
        return [f"category {i + 1}" for i in range(n - 1)] + ["(other)"]
    return [f"bin {i + 1}" for i in range(n)]


def _charts(features: Sequence[Mapping[str, Any]]) -> str:
    figures = []
    for i, f in enumerate(features):
        train, seen = _shares(f.get("train_hist")), _shares(f.get("hist"))
        if not train and not seen:
            continue
        name = str(f.get("feature", ""))
        n = max(len(train), len(seen))
        edges = isinstance(f.get("edges"), list) and len(f["edges"]) == n + 1
        kind = ("category" if f.get("kind") == "categorical" else
                "value, bin edges" if edges else "bin")  # an older result has no edges
        svg = histogram([Series("training", "train", "#868e96", train),
                         Series("monitored", "seen", PALETTE[0], seen)],
                        _ticks(f, n), f"{name} ({kind})")
        figures.append(f'<figure id="chart-{i}" class=feature-chart>{svg}<figcaption>'
                       f"<b>{escape(name)}</b>: {_moments(f)}</figcaption></figure>")
    if not figures:
        return ""
    return ("<h2>Distributions</h2><p>Share of rows per bin, training and monitored overlaid; "
            "values outside the training range are counted in the outer bins.</p>"
            '<div class="charts">' + "".join(figures) + "</div>")


def _moments(f: Mapping[str, Any]) -> str:
    parts = []
    for label, mean, std in (("training", "train_mean", "train_std"),
                             ("monitored", "mean", "std")):
        m, s = dr.number(f.get(mean)), dr.number(f.get(std))
        if m is not None:
            parts.append(f"{label} mean {m:.4g}" + (f", std {s:.4g}" if s is not None else ""))
    rows = dr.number(f.get("rows"))
    return "; ".join([*parts, *([f"{rows:.0f} rows"] if rows is not None else [])])


def _position(value: float, edges: Sequence[float]) -> float:
    """Where `value` falls on a histogram drawn on `edges`, in bins from the left."""
    for i in range(len(edges) - 1):
        lo, hi = edges[i], edges[i + 1]
        if value <= hi or i == len(edges) - 2:
            return i + (min(max(value, lo), hi) - lo) / (hi - lo) if hi > lo else float(i)
    return 0.0


def _prediction(r: Mapping[str, Any]) -> str:
    p = r.get("prediction")
    if not isinstance(p, Mapping):
        return ""
    column = escape(str(p.get("column", "prediction")))
    stats = [(k, dr.number(p.get(k))) for k in ("rows", "mean", "std", "min", "max")]
    known = [f"{k} {dr.figure(k, v)}" for k, v in stats if v is not None]
    if not known:
        return (f'<h2>Prediction</h2><p id="prediction">No value of the prediction column '
                f"<code>{column}</code> was found in the monitored files.</p>")
    return (f'<h2>Prediction</h2><p id="prediction">Column <code>{column}</code>: '
            f"{escape(', '.join(known))}.</p>{_prediction_chart(p)}")


def _prediction_chart(p: Mapping[str, Any]) -> str:
    """Its histogram on its edges, the mean dashed, mean +- one std shaded; none without
    `hist` and `edges` (a result of an older branchml)."""
    hist, edges = _shares(p.get("hist")), p.get("edges")
    if not hist or not isinstance(edges, list) or len(edges) != len(hist) + 1:
        return ""
    e = [dr.number(x) or 0.0 for x in edges]
    mean, std = dr.number(p.get("mean")), dr.number(p.get("std"))
    marks = [(_position(mean, e), f"mean {mean:.4g}")] if mean is not None else []
    band = ((_position(mean - std, e), _position(mean + std, e),
             f"mean +- one std: {mean - std:.4g} to {mean + std:.4g}")
            if mean is not None and std is not None else None)
    svg = histogram([Series("monitored", "pred", PALETTE[0], hist)], [tick(x) for x in e],
                    f"{p.get('column', 'prediction')} (value, bin edges)", marks, band)
    return (f'<figure id="chart-prediction" class=prediction-chart>{svg}<figcaption>Share of '
            "monitored predictions per bin; dashed: the mean; shaded: the mean +- one std."
            "</figcaption></figure>")


def _notes(r: Mapping[str, Any]) -> str:
    items = "".join(f"<li>{escape(n)}</li>" for n in dr.notes(r))
    return f'<h2>Notes</h2><ul id="notes">{items}</ul>' if items else ""


def _left_out(r: Mapping[str, Any]) -> str:
    rows = [c for c in r.get("left_out") or () if isinstance(c, Mapping)]
    if not rows:
        return ""
    body = "".join(
        f"<tr><td class=text>{escape(str(c.get('column', '')))}</td><td class=text>"
        f"{escape(str(c.get('role', '')))}</td><td class=text>"
        f"{'declared' if c.get('declared') else 'detected'}</td><td class=text>"
        f"{escape(str(c.get('reason', '')))}</td></tr>" for c in rows)
    return ('<h2>Left out</h2><p>Columns not scored as features.</p><table id="left-out">'
            "<thead><tr><th class=text>column</th><th class=text>role</th><th class=text>"
            "declared or detected</th><th class=text>reason</th></tr></thead><tbody>"
            + body + "</tbody></table>")


def _sampled(r: Mapping[str, Any]) -> str:
    s, figures = r.get("sampled"), dr.sampled_figures(r)
    if not isinstance(s, Mapping) or not figures:
        return ""
    return ('<h2>Sampled figures</h2><p id="sampled">Computed on a uniform sample of '
            + (f"{escape(str(s.get('size')))} values (at most {escape(str(s['cap']))})"
               if s.get("cap") is not None else f"up to {escape(str(s.get('size')))} values")
            + f" per feature (seed {escape(str(s.get('seed')))})"
            f": {escape(', '.join(figures))}. Every other figure covers every row.</p>")


def _files(r: Mapping[str, Any]) -> str:
    files = [str(f) for f in r.get("files") or ()]
    return ("<details><summary>Monitored files</summary><ul>"
            + "".join(f"<li><code>{escape(f)}</code></li>" for f in files)
            + "</ul></details>") if files else ""
