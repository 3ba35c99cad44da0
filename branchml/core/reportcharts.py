"""The drift report's charts as inline SVG (no script, no library, no network): histograms
of shares per bin with labelled axes and bin edges, and lines over time windows with the
threshold drawn. Every text that comes from data is escaped here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["PALETTE", "Series", "histogram", "line_chart", "tick"]

PALETTE = ("#2a6fdb", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c",
           "#5c940d", "#364fc7", "#a61e4d")
W, H = 440, 250
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 30, 78


@dataclass(frozen=True)
class Series:
    name: str  # shown in the legend
    css: str  # class of its bars: "train", "seen" or "pred"
    color: str
    shares: Sequence[float]


def tick(value: float) -> str:
    """A bin edge or axis value, short: 4 significant digits."""
    return f"{value:.4g}"


def histogram(series: Sequence[Series], ticks: Sequence[str], x_label: str,
              marks: Sequence[tuple[float, str]] = (),
              band: tuple[float, float, str] | None = None) -> str:
    """Bars of each series overlaid per bin (same slot, translucent). `ticks`: len(bins)+1
    edges (drawn at the bin boundaries) or len(bins) category labels (under each bar). `marks`:
    (position in bins from the left edge, label), drawn as dashed vertical lines; `band`:
    (from, to, label) in the same unit, shaded behind the bars (mean +- one std)."""
    n = max((len(s.shares) for s in series), default=0) or 1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot, top = pw / n, _nice(max((max(s.shares, default=0.0) for s in series), default=0.0))
    parts = [_axes(pw, ph, top, "share of rows", lambda v: f"{v:.0%}" if top >= 0.03
                   else f"{v:.1%}"), _x_label(x_label)]
    if band is not None:
        x0, x1 = LEFT + band[0] * slot, LEFT + band[1] * slot
        parts.append(f'<rect class="band" x="{x0:.1f}" y="{TOP}" width="{x1 - x0:.1f}" '
                     f'height="{ph}" fill="#ffd43b" fill-opacity="0.25">'
                     f"<title>{escape(band[2])}</title></rect>")
    for s in series:
        for i, share in enumerate(s.shares):
            h = ph * share / top
            parts.append(f'<rect class="bar {s.css}" x="{LEFT + i * slot + 1:.1f}" '
                         f'y="{TOP + ph - h:.1f}" width="{max(slot - 2, 1):.1f}" '
                         f'height="{h:.1f}" fill="{s.color}" fill-opacity="0.55">'
                         f"<title>{escape(s.name)}, bin {i + 1}: {share:.2%}</title></rect>")
    on_edges = len(ticks) == n + 1
    for i, label in enumerate(ticks):
        x = LEFT + (i if on_edges else i + 0.5) * slot
        parts.append(_x_tick(x, label, TOP + ph))
    for where, label in marks:
        x = LEFT + where * slot
        parts.append(f'<line class="mark" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" '
                     f'y2="{TOP + ph}" stroke="#222" stroke-dasharray="4 3"/>'
                     f'<text class="mark-label" x="{x + 3:.1f}" y="{TOP + 10}" '
                     f'font-size="10">{escape(label)}</text>')
    parts.append(_legend([(s.name, s.color) for s in series]))
    return _svg("histogram", x_label, parts)


def line_chart(x_ticks: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
               limit: float | None, y_label: str) -> str:
    """One line per series over the windows (x: window start, evenly spaced), points with
    their value as a tooltip, and the threshold as a dashed red line."""
    from branchml.core.drift import exact  # NumPy: loaded when a report is made

    values = [v for _, vs in series for v in vs if v is not None]
    lo = min([0.0, *values, *([limit] if limit is not None else [])])
    hi = _nice(max([*values, *([limit] if limit is not None else []), lo + 1e-12]) - lo) + lo
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    m = max(len(x_ticks), 1)

    def x(i: int) -> float:
        return LEFT + (pw / 2 if m == 1 else pw * i / (m - 1))

    def y(v: float) -> float:
        return TOP + ph - ph * (v - lo) / (hi - lo)

    parts = [_axes(pw, ph, hi - lo, y_label, lambda v: tick(v + lo)), _x_label("window start")]
    step = max(1, -(-m // 8))  # at most 8 dates under the axis
    parts += [_x_tick(x(i), t, TOP + ph) for i, t in enumerate(x_ticks) if i % step == 0]
    if limit is not None:
        parts.append(f'<line class="limit" x1="{LEFT}" x2="{LEFT + pw}" y1="{y(limit):.1f}" '
                     f'y2="{y(limit):.1f}" stroke="#c92a2a" stroke-dasharray="6 4"/>'
                     f'<text x="{LEFT + pw - 2}" y="{y(limit) - 4:.1f}" text-anchor="end" '
                     f'font-size="10" fill="#c92a2a">threshold {exact(limit)}</text>')
    for k, (name, vs) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        points = [(x(i), y(v), v) for i, v in enumerate(vs) if v is not None]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
        parts.append(f'<polyline class="line" points="{path}" fill="none" stroke="{color}" '
                     f'stroke-width="1.5"><title>{escape(name)}</title></polyline>')
        parts += [f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{color}">'
                  f"<title>{escape(name)}: {v:.6g}</title></circle>" for px, py, v in points]
    parts.append(_legend([(name, PALETTE[k % len(PALETTE)])
                          for k, (name, _) in enumerate(series)]))
    return _svg("line-chart", y_label, parts)


def _nice(top: float) -> float:
    """An axis maximum a little above `top`, on a round step."""
    if top <= 0:
        return 1.0
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10):
        if top * 1.05 <= step * 10:
            return step * -(-top * 1.05 // step)
    return top * 1.1


def _axes(pw: float, ph: float, top: float, y_label: str, fmt: Callable[[float], str]) -> str:
    bottom = TOP + ph
    out = [f'<line class="axis" x1="{LEFT}" x2="{LEFT + pw}" y1="{bottom}" y2="{bottom}" '
           f'stroke="#444"/>',
           f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}" stroke="#444"/>',
           f'<text class="axis-label y" transform="translate(14 {TOP + ph / 2:.1f}) rotate(-90)" '
           f'text-anchor="middle" font-size="11">{escape(y_label)}</text>']
    for frac in (0.0, 0.5, 1.0):
        yy = bottom - ph * frac
        out.append(f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{yy:.1f}" y2="{yy:.1f}" '
                   f'stroke="#444"/><text class="tick y" x="{LEFT - 6}" y="{yy + 3:.1f}" '
                   f'text-anchor="end" font-size="10">{escape(fmt(top * frac))}</text>')
    return "".join(out)


def _x_label(label: str) -> str:
    return (f'<text class="axis-label x" x="{LEFT + (W - LEFT - RIGHT) / 2:.1f}" y="{H - 6}" '
            f'text-anchor="middle" font-size="11">{escape(label)}</text>')


def _x_tick(x: float, label: str, bottom: float) -> str:
    short = label if len(label) <= 14 else label[:13] + "…"
    return (f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#444"/>'
            f'<text class="tick x" transform="translate({x:.1f} {bottom + 8}) rotate(-40)" '
            f'text-anchor="end" font-size="10">{escape(short)}<title>{escape(label)}</title>'
            "</text>")


def _legend(entries: Sequence[tuple[str, str]]) -> str:
    out, x = [], LEFT
    for name, color in entries[:6]:  # a long legend is the page's list below the chart
        out.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{color}" '
                   f'fill-opacity="0.55"/><text class="legend" x="{x + 14}" y="17" '
                   f'font-size="11">{escape(name if len(name) <= 18 else name[:17] + "…")}'
                   "</text>")
        x += 24 + 7 * min(len(name), 18)
    return "".join(out)


def _svg(kind: str, label: str, parts: Sequence[str]) -> str:
    return (f'<svg class="{kind}" role="img" aria-label="{escape(label)}" width="{W}" '
            f'height="{H}" viewBox="0 0 {W} {H}">'
            + "".join(parts) + "</svg>")
