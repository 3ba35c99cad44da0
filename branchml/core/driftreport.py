"""`monitor check --report`: a drift report as Markdown or as HTML with a small chart per
feature. Pure text from the report's data; the caller writes it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["drift_html", "drift_markdown"]


def drift_markdown(r: Mapping[str, Any]) -> str:
    lines = [f"# Drift of {r['tag']}", "",
             f"{r['rows']} monitored rows in {len(r['files'])} file(s). "
             + (f"**{len(r['alerts'])} alert(s).**" if r["alerts"] else "No alert."), "",
             "| feature | kind | PSI | KS | outside range | missing | alert |",
             "|---|---|---|---|---|---|---|"]
    for f in r["features"]:
        ks = "" if f["ks"] is None else f"{f['ks']:.3f}"
        lines.append(f"| {f['feature']} | {f['kind']} | {f['psi']:.3f} | {ks} | "
                     f"{f['outside_range']:.3f} | {f['missing']:.3f} | "
                     f"{'; '.join(f['alerts'])} |")
    lines += ["", *[f"- {a}" for a in r["alerts"]]]
    return "\n".join(lines) + "\n"


def _bars(train: list[int], seen: list[int]) -> str:
    """A small SVG: training (grey) and monitored (blue) shares per bin."""
    t_sum, s_sum = max(sum(train), 1), max(sum(seen), 1)
    width, height, n = 240, 60, max(len(train), 1)
    w = width / n
    rects = []
    for i, (a, b) in enumerate(zip(train, seen, strict=False)):
        ha, hb = height * a / t_sum, height * b / s_sum
        rects.append(f'<rect x="{i * w:.1f}" y="{height - ha:.1f}" width="{w / 2:.1f}" '
                     f'height="{ha:.1f}" fill="#999"/>')
        rects.append(f'<rect x="{i * w + w / 2:.1f}" y="{height - hb:.1f}" '
                     f'width="{w / 2:.1f}" height="{hb:.1f}" fill="#36c"/>')
    return f'<svg width="{width}" height="{height}">{"".join(rects)}</svg>'


def drift_html(r: Mapping[str, Any]) -> str:
    import html

    rows = []
    for f in r["features"]:
        alert = "; ".join(f["alerts"])
        ks = "" if f["ks"] is None else f"{f['ks']:.3f}"
        rows.append(f"<tr{' class=alert' if alert else ''}><td>{html.escape(f['feature'])}</td>"
                    f"<td>{f['psi']:.3f}</td><td>{ks}</td><td>{f['outside_range']:.3f}</td>"
                    f"<td>{f['missing']:.3f}</td><td>{_bars(f['train_hist'], f['hist'])}</td>"
                    f"<td>{html.escape(alert)}</td></tr>")
    status = f"{len(r['alerts'])} alert(s)" if r["alerts"] else "no alert"
    return ("<!doctype html><meta charset=utf-8><title>drift " + html.escape(r["tag"])
            + "</title><style>body{font-family:sans-serif}td,th{padding:4px 8px}"
            ".alert{background:#fdd}</style><h1>Drift of " + html.escape(r["tag"]) + "</h1>"
            f"<p>{r['rows']} monitored rows, {status}. Bars: training (grey) vs monitored "
            "(blue) share per bin.</p><table><tr><th>feature</th><th>PSI</th><th>KS</th>"
            "<th>outside range</th><th>missing</th><th>distribution</th><th>alert</th></tr>"
            + "".join(rows) + "</table>\n")
