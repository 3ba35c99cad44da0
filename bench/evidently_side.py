"""Evidently's side of bench/bench_monitor.py, run by the Python of its own virtualenv
(.venv-evidently: Evidently 0.7.23, pandas<3, SciPy), never imported by branchml's.

  evidently_side.py run REF CUR OUT.json [--method M] [--html OUT.html]
      Evidently's DataDriftPreset on the two CSVs (the one measured with /usr/bin/time):
      writes {column: {"method", "value", "threshold", "drift"}} and its dataset verdict.
  evidently_side.py exact REF CUR OUT.json --edges EDGES.json
      The figures branchml's should agree with, computed on every row with SciPy (not
      measured): KS statistic and p-value, Wasserstein distance normed by the reference
      standard deviation, mean and std of CUR, PSI on the bins branchml used (EDGES.json:
      {column: inner edges} or {column: categories}), Jensen-Shannon distance.

Columns: numeric are those named f<N>, categorical "cat"; the others (label, prediction) are
not features. Only this file knows Evidently's API.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import numpy as np
import pandas as pd

EPS = 1e-4  # branchml's floor on a bin's share in PSI (core/drift.py)


def features(frame: Any) -> tuple[list[str], list[str]]:
    numeric = [c for c in frame.columns if c.startswith("f") and c[1:].isdigit()]
    return numeric, [c for c in frame.columns if c == "cat"]


def run(ref_path: str, cur_path: str, out: str, method: str | None, html: str | None) -> None:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref, cur = pd.read_csv(ref_path), pd.read_csv(cur_path)
    numeric, categorical = features(ref)
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    preset = DataDriftPreset(columns=numeric + categorical, num_method=method)
    snapshot = Report([preset]).run(Dataset.from_pandas(cur, data_definition=definition),
                                    Dataset.from_pandas(ref, data_definition=definition))
    if html:
        snapshot.save_html(html)
    columns: dict[str, Any] = {}
    verdict: dict[str, Any] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            name, value, limit = config["method"], float(metric["value"]), config["threshold"]
            name = _display_name(name, config["column"] in categorical)
            # its stattests: a p-value drifts at or below the threshold, a distance at or above
            drift = value <= limit if "p_value" in name else value >= limit
            columns[config["column"]] = {"method": name, "value": value, "threshold": limit,
                                         "drift": bool(drift)}
        elif config["type"].endswith("DriftedColumnsCount"):
            verdict = {**metric["value"], "drift_share": config["drift_share"]}
    with open(out, "w") as f:
        json.dump({"columns": columns, "dataset": verdict}, f)


def _display_name(method: str, categorical: bool) -> str:
    """"ks" -> "K-S p_value": a method given by name is reported by that name."""
    from evidently.legacy.calculations.stattests.registry import get_registered_stattest
    from evidently.legacy.core import ColumnType

    kind = ColumnType.Categorical if categorical else ColumnType.Numerical
    try:
        return str(get_registered_stattest(method, kind).display_name)
    except ValueError:  # already a display name (its defaults are reported so)
        return method


def exact(ref_path: str, cur_path: str, out: str, edges_path: str) -> None:
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import ks_2samp, wasserstein_distance

    with open(edges_path) as f:
        bins = json.load(f)
    ref, cur = pd.read_csv(ref_path), pd.read_csv(cur_path)
    numeric, categorical = features(ref)
    result: dict[str, Any] = {}
    for c in numeric:
        r, m = ref[c].dropna().to_numpy(float), cur[c].dropna().to_numpy(float)
        ks = ks_2samp(r, m)
        # branchml's bins; without them (before issue 19), its rule: training deciles
        inner = np.asarray(bins[c], dtype=float) if c in bins else \
            np.unique(np.quantile(r, np.linspace(0, 1, 11))[1:-1])
        result[c] = {"ks": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
                     "wasserstein": float(wasserstein_distance(r, m) / max(np.std(r), 1e-3)),
                     "mean": float(np.mean(m)), "std": float(np.std(m)),
                     "psi": psi(np.bincount(np.searchsorted(inner, r, "right"),
                                            minlength=len(inner) + 1),
                                np.bincount(np.searchsorted(inner, m, "right"),
                                            minlength=len(inner) + 1))}
    for c in categorical:
        r, m = ref[c].dropna().astype(str), cur[c].dropna().astype(str)
        known = list(bins.get(c) or sorted(r.unique()))
        e = [int((r == k).sum()) for k in known] + [int((~r.isin(known)).sum())]
        a = [int((m == k).sum()) for k in known] + [int((~m.isin(known)).sum())]
        union = sorted(set(r.unique()) | set(m.unique()))
        p = r.value_counts(normalize=True).reindex(union, fill_value=0).to_numpy()
        q = m.value_counts(normalize=True).reindex(union, fill_value=0).to_numpy()
        result[c] = {"psi": psi(e, a), "js": float(jensenshannon(p, q))}
    with open(out, "w") as f:
        json.dump(result, f)


def psi(expected: Any, actual: Any) -> float:
    """branchml's formula (shares floored at EPS), written again from the docs."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e = np.maximum(e / max(e.sum(), 1), EPS)
    a = np.maximum(a / max(a.sum(), 1), EPS)
    value = float(np.sum((a - e) * np.log(a / e)))
    return value if math.isfinite(value) else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["run", "exact"])
    ap.add_argument("ref")
    ap.add_argument("cur")
    ap.add_argument("out")
    ap.add_argument("--method", default=None, help="num_method: psi, ks, ... (default: its own)")
    ap.add_argument("--html", default=None)
    ap.add_argument("--edges", default=None)
    a = ap.parse_args()
    if a.mode == "run":
        run(a.ref, a.cur, a.out, a.method, a.html)
    else:
        exact(a.ref, a.cur, a.out, a.edges)


if __name__ == "__main__":
    main()
