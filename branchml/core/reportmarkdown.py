"""The drift report as Markdown (for a pull request) and as terminal text (what `monitor
check` prints: the same parts, aligned columns, no Markdown markers). Names from the data are
made inert: code spans with `|` escaped in Markdown, control characters replaced on a
terminal (a column name must not move the cursor or clear the screen)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from branchml.core import driftreport as dr
from branchml.core.reportwindows import unwindowed, window_rows, window_title, windows

__all__ = ["markdown", "text"]

COUNTERS = (("features", "features scored"), ("drifted", "drifted"), ("left_out", "left out"),
            ("alerts", "alerts"), ("rows", "rows"), ("files", "files"))


def markdown(r: Mapping[str, Any]) -> str:
    c, v = dr.counters(r), dr.verdict(r)
    lines = [f"# Drift of {_plain(str(r.get('tag', '')))}", "",
             f"**{v.capitalize()}**: {c['alerts']} alert(s)." if c["alerts"]
             else f"**{v.capitalize()}**: no alert.", "",
             "| " + " | ".join(label for _, label in COUNTERS) + " |",
             "|" + "---:|" * len(COUNTERS),
             "| " + " | ".join(str(c[k]) for k, _ in COUNTERS) + " |", ""]
    table = _feature_table(r, _code, lambda s: f"**{s}**")
    if table:
        lines += ["## Features", "", _md_table(table[0], table[1:]), "",
                  ("Values in bold are over their threshold (a feature's own threshold in "
                   "brackets beside its value). " + dr.legend(table[0][3:])).rstrip(), ""]
    lines += _section("## Notes", [f"- {_cell(n)}" for n in dr.notes(r)])
    lines += _section("## Prediction", _prediction(r, lambda s: _code(s, False)))
    left = [[_code(str(x.get("column", ""))), _plain(str(x.get("role", ""))),
             "declared" if x.get("declared") else "detected", _cell(str(x.get("reason", "")))]
            for x in _left_out(r)]
    if left:
        lines += ["## Left out", "", _md_table(["column", "role", "", "reason"], left), ""]
    lines += _section("## Alerts", [f"- {_code(a, in_table=False)}" for a in _alerts(r)])
    if windows(r):
        rows = [[_plain(s), _plain(e), n, m, _cell("; ".join(a))]
                for s, e, n, m, a in window_rows(r)]
        lines += [f"## {_plain(window_title(r))}", "",
                  _md_table(["start", "end", "rows", "prediction mean", "alerts"], rows), "",
                  *([unwindowed(r), ""] if unwindowed(r) else [])]
    lines += _section("", _sampled(r))
    return "\n".join(lines).rstrip() + "\n"


def text(r: Mapping[str, Any]) -> str:
    c, v = dr.counters(r), dr.verdict(r)
    lines = [f"Drift of {_plain(str(r.get('tag', '')))}: {v}, "
             + (f"{c['alerts']} alert(s)." if c["alerts"] else "no alert."),
             ", ".join(f"{c[k]} {label}" for k, label in COUNTERS[:4])
             + f"; {c['rows']} rows in {c['files']} file(s).", ""]
    table = _feature_table(r, _plain, lambda s: s + "!")
    if table:
        lines += [*_aligned(table), "! marks a value over its threshold (a feature's own "
                  "threshold in brackets beside its value).",
                  *filter(None, [dr.legend(table[0][3:])]), ""]
    lines += _section("Notes:", [f"- {_plain(n)}" for n in dr.notes(r)])
    lines += _section("Prediction:", _prediction(r, _plain))
    left = [f"- {_plain(str(x.get('column', '')))} ({_plain(str(x.get('role', '')))}, "
            f"{'declared' if x.get('declared') else 'detected'}): "
            f"{_plain(str(x.get('reason', '')))}" for x in _left_out(r)]
    lines += _section("Left out:", left)
    if windows(r):
        rows = [[_plain(s), _plain(e), n, m, str(len(a))] for s, e, n, m, a in window_rows(r)]
        lines += [_plain(window_title(r)) + ":",
                  *_aligned([["start", "end", "rows", "prediction mean", "alerts"], *rows]),
                  *([unwindowed(r)] if unwindowed(r) else []), ""]
    lines += _section("", _sampled(r))
    lines += _section("Alerts:", [f"- {_plain(a)}" for a in _alerts(r)])
    return "\n".join(lines).rstrip() + "\n"


def _feature_table(r: Mapping[str, Any], name: Callable[[str], str],
                   mark: Callable[[str], str]) -> list[list[str]]:
    """Header, the thresholds every feature shares, then a row per feature (a feature's own
    threshold beside its value)."""
    features = [f for f in r.get("features") or () if isinstance(f, Mapping)]
    if not features:
        return []
    stats, limits = dr.statistics(features), dr.common_limits(features)
    rows = [["feature", "kind", "rows", *(s.short for s in stats)],
            ["threshold", "", "", *(s.limit_text(limits[s.key]) if s.key in limits else ""
                                   for s in stats)]]
    for f in features:
        rows_n = dr.number(f.get("rows"))
        row = [name(str(f.get("feature", ""))), _plain(str(f.get("kind", ""))),
               "" if rows_n is None else f"{rows_n:.0f}"]
        for s in stats:
            own = dr.number(dr.thresholds(f).get(s.key))
            cell = dr.shown(dr.number(f.get(s.key)), own)
            if cell and dr.is_alert(f, s.key):
                cell = mark(cell)
            if cell and own is not None and own != limits.get(s.key):
                cell += f" ({s.limit_text(own)})"
            row.append(cell)
        rows.append(row)
    return rows


def _prediction(r: Mapping[str, Any], name: Callable[[str], str]) -> list[str]:
    p = r.get("prediction")
    if not isinstance(p, Mapping):
        return []
    known = [f"{k} {dr.figure(k, v)}" for k in ("rows", "mean", "std", "min", "max")
             if (v := dr.number(p.get(k))) is not None]
    column = name(str(p.get("column", "prediction")))
    if not known:
        return [f"No value of the prediction column {column} was found in the monitored files."]
    return [f"Column {column}: {', '.join(known)}."]


def _left_out(r: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [x for x in r.get("left_out") or () if isinstance(x, Mapping)]


def _alerts(r: Mapping[str, Any]) -> list[str]:
    return [str(a) for a in r.get("alerts") or ()]


def _sampled(r: Mapping[str, Any]) -> list[str]:
    s, figures = r.get("sampled"), dr.sampled_figures(r)
    if not isinstance(s, Mapping) or not figures:
        return []
    return [f"Sampled: {_plain(', '.join(figures))} computed on a uniform sample of "
            f"{_size(s)} per feature (seed {_plain(str(s.get('seed')))}"
            "); every other figure covers every row."]


def _size(s: Mapping[str, Any]) -> str:
    """"569 values (at most 100000)"; an older result, without `cap`, gave the cap as size."""
    if s.get("cap") is None:
        return f"up to {_plain(str(s.get('size')))} values"
    return f"{_plain(str(s.get('size')))} values (at most {_plain(str(s['cap']))})"


def _section(title: str, body: Sequence[str]) -> list[str]:
    if not body:
        return []
    return [*([title, ""] if title.startswith("#") else [title] if title else []), *body, ""]


def _plain(s: str) -> str:
    """Printable text only: a control character (an escape sequence) becomes '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in s)


def _cell(s: str) -> str:
    return _plain(s).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def _code(s: str, in_table: bool = True) -> str:
    """A name as a Markdown code span: shown literally, never as HTML or emphasis (a `|`
    escaped only in a table, where it would end the cell)."""
    body = _plain(s).replace("`", "'")
    return f"`{body.replace('|', chr(92) + '|') if in_table else body}`"


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    align = ["---" if i < 2 or not head[i] or head[i] in ("reason", "alerts", "role") else "---:"
             for i in range(len(head))]
    return "\n".join(["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |",
                      *("| " + " | ".join(r) + " |" for r in rows)])


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                      for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
            for r in rows]
