"""The Markdown tables bench/bench_monitor.py prints: time and memory with the ratios, `monitor
log`, which columns each tool flags, and how far each figure is from the exact one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

LOG_TARGET = (1.5, 150.0)  # issue 19: `monitor log` of 1M rows under 1.5 s and 150 MiB
DRIFT = {"f0": "mean +0.5 sd", "f1": "sd x1.5", "f2": "mean +0.15 sd (small)",
         "f3": "lognormal x1.3", "f4": "Poisson 3 -> 4 (repeated values)",
         "cat": "category shares moved"}  # as bench_monitor.block() makes them
SHORT = {"Wasserstein distance (normed)": "W", "Jensen-Shannon distance": "JS",
         "K-S p_value": "KS p", "PSI": "PSI"}
COLUMNS = [f"f{i}" for i in range(20)] + ["cat"]
# statistic -> (Evidently's run and the column kind it comes from, for the exact comparison)
EXACT = {"ks": None, "ks_pvalue": ("ks", "numeric"), "wasserstein": ("default", "numeric"),
         "mean": None, "std": None, "psi": ("psi", "numeric"), "js": ("default", "cat")}


@dataclass
class Run:
    wall: float
    cpu: float
    rss: float  # MiB
    code: int
    out: str


def print_tables(rows: int, mib: float, runs: dict[str, Run], logs: dict[int, Run],
                 report: dict[str, Any], found: dict[str, Any] | None) -> None:
    print(f"\n| {rows:,} production rows x 21 features ({mib:.0f} MiB CSV; training "
          "200,000 rows) | wall (s) | CPU (s) | peak RSS (MiB) | wall / branchml's | "
          "CPU / branchml's | RSS / branchml's |\n|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        base = runs["branchml monitor check --json --report r.html" if "HTML" in name
                    or "--report" in name else "branchml monitor check --json"]
        print(f"| {name} | {r.wall:.2f} | {r.cpu:.2f} | {r.rss:.0f} | "
              f"{r.wall / base.wall:.1f} | {r.cpu / base.cpu:.1f} | {r.rss / base.rss:.1f} |")
    print(f"\nbranchml scored {report.get('rows', 0):,} rows, exit code "
          f"{runs['branchml monitor check --json'].code} (1 = drift alert).")
    print("\n| `branchml monitor log` | wall (s) | CPU (s) | peak RSS (MiB) | target (1M rows: "
          f"under {LOG_TARGET[0]} s; any size: under {LOG_TARGET[1]:.0f} MiB) |"
          "\n|---|---|---|---|---|")
    for n, r in logs.items():  # the time target is the issue's, for 1M rows; memory: any size
        met = r.rss < LOG_TARGET[1] and (n > 1_000_000 or r.wall < LOG_TARGET[0])
        print(f"| {n:,} rows | {r.wall:.2f} | {r.cpu:.2f} | {r.rss:.0f} | "
              f"{'met' if met else 'not met'} |")
    if found is None:
        return
    print_flags(report, found)
    print_exact(report, found)


def _alerts(report: dict[str, Any]) -> dict[str, list[str]]:
    return {f["feature"]: [a.split(": ", 1)[-1] for a in f.get("alerts") or []]
            for f in report.get("features") or []}


def print_flags(report: dict[str, Any], found: dict[str, Any]) -> None:
    ours = _alerts(report)
    runs = [k for k in found if k != "exact"]
    print("\n| column | drift injected | branchml alerts | "
          + " | ".join(f"Evidently {k}" for k in runs) + " |\n" + "|---" * (3 + len(runs)) + "|")
    for c in COLUMNS:
        theirs = [found[k]["columns"].get(c) or {} for k in runs]
        if c not in DRIFT and not ours.get(c) and not any(t.get("drift") for t in theirs):
            continue
        cells = [f"{SHORT.get(t['method'], t['method'])} {t['value']:.3g}: "
                 f"{'DRIFT' if t['drift'] else 'no'}"
                 if t else "-" for t in theirs]
        print(f"| {c} | {DRIFT.get(c, 'none')} | {'; '.join(ours.get(c) or []) or 'no'} | "
              + " | ".join(cells) + " |")
    counts = [("branchml", {c for c, a in ours.items() if a})] + [
        (f"Evidently {k}", {c for c, v in found[k]["columns"].items() if v["drift"]})
        for k in runs]
    print("\nflagged, of the 6 drifted columns / of the 15 others: " + "; ".join(
        f"{who} {len(s & set(DRIFT))} / {len(s - set(DRIFT))}" for who, s in counts))
    for k in runs:  # the flags read here are the ones Evidently counted itself
        if found[k]["dataset"].get("count") != len(dict(counts)[f"Evidently {k}"]):
            print(f"warning: Evidently {k} counted {found[k]['dataset'].get('count')} drifted "
                  "columns, not the ones flagged above")
    data = found["default"]["dataset"]
    verdict = report.get("verdict") or ("drift" if report.get("alerts") else "no drift")
    print(f"dataset verdict: branchml {verdict}; "
          f"Evidently default {data.get('count', 0):.0f} of {len(COLUMNS)} columns drifted "
          f"(share {data.get('share', 0):.2f}; its dataset drift needs {data.get('drift_share')})")


def print_exact(report: dict[str, Any], found: dict[str, Any]) -> None:
    """Largest distance from the exact figure (SciPy on every row) over the features."""
    exact = found["exact"]
    print("\n| statistic | branchml: largest abs. difference from exact | Evidently: same |"
          "\n|---|---|---|")
    for stat, theirs in EXACT.items():
        ours = {f["feature"]: f.get(stat) for f in report.get("features") or []}
        evid: dict[str, Any] = {}
        if theirs:
            run, kind = theirs
            evid = {c: v["value"] for c, v in found[run]["columns"].items()
                    if (c == "cat") == (kind == "cat")}
        note = " (its own bins)" if stat == "psi" else ""
        print(f"| {stat} | {_worst(ours, exact, stat)} | {_worst(evid, exact, stat)}{note} |")


def _worst(values: dict[str, Any], exact: dict[str, Any], stat: str) -> str:
    diffs = [(abs(float(v) - exact[c][stat]), c) for c, v in values.items()
             if v is not None and stat in exact.get(c, {}) and math.isfinite(exact[c][stat])]
    if not diffs:
        return "not reported"
    d, c = max(diffs)
    return f"{d:.2g} ({c}: {values[c]:.6g} vs {exact[c][stat]:.6g})"
