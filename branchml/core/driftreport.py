"""`monitor check` reports: what every form (HTML, Markdown, terminal text) reads from the
check's result, read tolerantly, because results of older versions lack keys (`windows`,
`left_out`, `counters`, the newer statistics, `prediction.hist`): a part whose keys are absent
is left out of the report, never guessed. Pure: text from data; the caller writes it.

The forms themselves: core/reporthtml.py (the page), core/reportcharts.py (its SVG charts),
core/reportmarkdown.py (Markdown for pull requests, and the terminal text)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MEANINGS", "SHORT_NAMES", "STATISTICS", "Statistic", "counters", "drift_html",
           "drift_markdown", "drift_text", "figure", "is_alert", "legend", "notes", "shown",
           "statistics", "verdict"]


@dataclass(frozen=True)
class Statistic:
    key: str  # as in the result's features and thresholds
    label: str  # as a person reads it
    short: str  # in a text table, where width counts
    below: bool = False  # True: an alert when the value is BELOW its limit (a p-value)

    def limit_text(self, limit: float) -> str:
        """The limit exactly as configured: a report must not show 0.0112218 for 0.01122177."""
        from branchml.core import drift

        return f"{'<' if self.below else '>'} {drift.exact(limit)}"


# every per-feature statistic of the contract, in the order the tables show them
STATISTICS = (
    Statistic("psi", "PSI", "PSI"),
    Statistic("ks", "KS", "KS"),
    Statistic("ks_pvalue", "KS p-value", "KS p", below=True),
    Statistic("wasserstein", "Wasserstein (normed)", "W"),
    Statistic("chi2", "chi-squared", "chi2"),
    Statistic("chi2_pvalue", "chi-squared p-value", "chi2 p", below=True),
    Statistic("js", "Jensen-Shannon", "JS"),
    Statistic("outside_range", "outside range", "outside"),
    Statistic("missing", "missing", "missing"),
)

# what the short names of the text tables stand for (printed under them: only the columns
# a table shows, so a reader is never told about one that is not there)
MEANINGS = {"KS p": "KS p-value", "W": "Wasserstein distance over the training std",
            "chi2 p": "chi-squared p-value", "JS": "Jensen-Shannon distance",
            "outside": "share outside the training range (unseen categories)",
            "missing": "share of empty values"}


def legend(shorts: Sequence[str]) -> str:
    """What the short column names `shorts` stand for, one sentence ("" when none needs it)."""
    parts = [f"{s}: {MEANINGS[s]}" for s in shorts if s in MEANINGS]
    return "; ".join(parts) + "." if parts else ""


SHORT_NAMES = legend([s.short for s in STATISTICS])  # every column's (the full table's legend)


def statistics(features: Sequence[Mapping[str, Any]]) -> list[Statistic]:
    """The statistics some feature carries a value for (an older result has fewer)."""
    return [s for s in STATISTICS if any(number(f.get(s.key)) is not None for f in features)]


def number(value: Any) -> float | None:
    """A finite number, or None (absent, null, NaN, a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def shown(value: float | None, limit: float | None = None) -> str:
    """`drift.shown` (enough digits to read on the right side of `limit`), and "" for a
    statistic that does not apply."""
    from branchml.core import drift  # NumPy: imported when a report is made, not at start-up

    return "" if value is None else drift.shown(value, limit, digits=4)


def figure(key: str, value: float) -> str:
    """A prediction figure: a count of rows as a whole number (1000000, not 1e+06)."""
    return f"{value:.0f}" if key == "rows" else shown(value)


def is_alert(feature: Mapping[str, Any], key: str) -> bool:
    """Whether `feature`'s alerts name statistic `key` (the check's own judgement: the report
    never re-applies thresholds). Alerts read "x1: psi 0.2001 > 0.2"."""
    head = f"{feature.get('feature')}: {key} "
    return any(isinstance(a, str) and a.startswith(head) for a in feature.get("alerts") or ())


def common_limits(features: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Per statistic, the threshold every feature that has the statistic shares (shown once in
    the column's header); a statistic whose limits differ by feature is not in it."""
    out: dict[str, float] = {}
    for s in STATISTICS:
        limits = {number(thresholds(f).get(s.key)) for f in features
                  if number(f.get(s.key)) is not None}
        if len(limits) == 1 and (only := limits.pop()) is not None:
            out[s.key] = only
    return out


def thresholds(feature: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(feature.get("thresholds"))


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a mapping, else an empty one (a key absent from an older result)."""
    return value if isinstance(value, Mapping) else {}


def verdict(r: Mapping[str, Any]) -> str:
    v = r.get("verdict")
    return v if isinstance(v, str) else ("drift" if r.get("alerts") else "no drift")


def counters(r: Mapping[str, Any]) -> dict[str, int]:
    """features scored, drifted, left out, alerts, rows, files: the check's own counters when
    it has them, else counted from its lists."""
    given = mapping(r.get("counters"))
    features = r.get("features") or []
    counted = {"features": len(features),
               "drifted": sum(1 for f in features if f.get("alerts")),
               "left_out": len(r.get("left_out") or []), "alerts": len(r.get("alerts") or [])}
    out = {k: int(given[k]) if isinstance(given.get(k), int) else v for k, v in counted.items()}
    return {**out, "rows": int(r.get("rows") or 0), "files": len(r.get("files") or [])}


def notes(r: Mapping[str, Any]) -> list[str]:
    """The check's `notes`: sentences where a figure alone would mislead (none in older results)."""
    given = r.get("notes")
    return [str(n) for n in given] if isinstance(given, list) else []


def sampled_figures(r: Mapping[str, Any]) -> list[str]:
    s = r.get("sampled")
    figures = s.get("figures") if isinstance(s, Mapping) else None
    return [str(f) for f in figures] if isinstance(figures, list) else []


def drift_html(r: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    from branchml.core.reporthtml import page

    return page(r)


def drift_markdown(r: Mapping[str, Any]) -> str:
    """The report as Markdown, for a pull request."""
    from branchml.core.reportmarkdown import markdown

    return markdown(r)


def drift_text(r: Mapping[str, Any]) -> str:
    """The report as plain terminal text (what `monitor check` prints without --json)."""
    from branchml.core.reportmarkdown import text

    return text(r)
