"""`monitor compare`'s text: per figure both releases, B minus A with its 95% interval, and
in words which release is better and whether the interval excludes zero."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _num(v: float | None, sign: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+.4g}" if sign else f"{v:.4g}"


def _interval(r: Mapping[str, Any]) -> str:
    if r.get("low") is None:
        return "no interval (fewer than 2 rows on a side)"
    word = "excludes zero" if r["excludes_zero"] else "includes zero"
    return f"95% CI {_num(r['low'], True)} to {_num(r['high'], True)}, {word}"


def _verdict(r: Mapping[str, Any], a: str, b: str) -> str:
    if r["better"] is None:
        return "no difference" if r["a"] is not None and r["b"] is not None else \
            "not comparable (no labelled rows on a side)"
    winner, loser = (b, a) if r["better"] == "b" else (a, b)
    way = "lower" if r["lower_is_better"] else "higher"
    if r["excludes_zero"]:
        return f"{winner} is better ({way} is better; the interval excludes zero)"
    return (f"{winner} looks better than {loser} ({way} is better), but the interval "
            "includes zero: not shown at 95%")


def compare_text(r: Mapping[str, Any]) -> str:
    a, b = r["a"]["tag"], r["b"]["tag"]
    p = r["prediction"]
    since = f" since {r['since']}" if r.get("since") else ""
    lines = [f"{r['client']}: {b} (B) against {a} (A), monitored rows{since}",
             f"  rows: {a} {r['a']['rows']:,}, {b} {r['b']['rows']:,}",
             f"  {p['column']} mean: {a} {_num(r['a']['mean'])}, {b} {_num(r['b']['mean'])}; "
             f"B - A {_num(p['difference'], True)} ({_interval(p)})",
             f"  {p['column']} std: {a} {_num(r['a']['std'])}, {b} {_num(r['b']['std'])}; "
             f"PSI {_num(p['psi'])}, KS {_num(p['ks'])} ({a} as reference)"]
    sampled = [t for t, k in ((a, "a"), (b, "b")) if p["sampled"][k]]
    if sampled:
        lines.append(f"  PSI and KS on a seeded sample of {p['sampled']['size']:,} predictions "
                     f"of {', '.join(sampled)} (seed {p['sampled']['seed']}); means over "
                     "every row")
    if r["target"] is None:
        lines.append("  no label column (monitor.target) in branchml.yaml: metrics not "
                     "compared")
    elif not r["metrics"]:
        lines.append("  no metrics named in monitor.metrics (accuracy, error_rate, mae, mse, "
                     "rmse): only predictions compared")
    for m in r["metrics"]:
        lines.append(f"  {m['metric']} on {m['rows_a']:,} and {m['rows_b']:,} labelled rows: "
                     f"{a} {_num(m['a'])}, {b} {_num(m['b'])}; B - A "
                     f"{_num(m['difference'], True)} ({_interval(m)}): {_verdict(m, a, b)}")
    return "\n".join(lines)
