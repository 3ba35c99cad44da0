"""Two releases' monitored rows compared (`monitor compare`), streamed chunk by chunk: exact
moments and a seeded reservoir sample (core/stream.py, as `monitor check` keeps them) for the
distribution tests (PSI, KS), and per-row losses
for the metrics, each with a 95% confidence interval of the difference by the normal
approximation (Welch's standard error: the two releases' variances are not assumed equal)."""

from __future__ import annotations

import math
from typing import Any

from branchml.core.runsort import lower_is_better
from branchml.core.stream import Moments, Reservoir

__all__ = ["METRICS", "Moments", "Reservoir", "difference", "ks", "losses", "metric_row",
           "psi", "reservoir"]

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile
SAMPLE = 200_000  # values kept per release for PSI and KS (every value when fewer)
SEED = 0
METRICS = ("accuracy", "error_rate", "mae", "mse", "rmse")


def reservoir() -> Reservoir:
    """A release's sample of predictions for PSI and KS (stream.Reservoir, seeded)."""
    return Reservoir(SAMPLE, SEED, "prediction")


def difference(a: Moments, b: Moments) -> dict[str, Any]:
    """B's mean minus A's, with its 95% interval (normal approximation, Welch's error)."""
    if a.n < 2 or b.n < 2:
        return {"difference": b.mean - a.mean if a.n and b.n else None, "low": None,
                "high": None, "excludes_zero": False}
    d = b.mean - a.mean
    half = Z95 * math.sqrt(a.var / a.n + b.var / b.n)
    return {"difference": d, "low": d - half, "high": d + half,
            "excludes_zero": d - half > 0 or d + half < 0}


def psi(ref: Any, other: Any, bins: int = 10) -> float | None:
    """PSI of `other` against `ref` on `ref`'s deciles (values outside go to the outer bins;
    an empty bin counts as 1e-4 of the rows so the log stays finite)."""
    import numpy as np

    if ref.size == 0 or other.size == 0:
        return None
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))[1:-1])
    p = np.bincount(np.searchsorted(edges, ref, "right"), minlength=edges.size + 1) / ref.size
    q = np.bincount(np.searchsorted(edges, other, "right"), minlength=edges.size + 1) / other.size
    p, q = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    return float(((q - p) * np.log(q / p)).sum())


def ks(a: Any, b: Any) -> float | None:
    """The two-sample KS statistic: the largest gap between the two empirical CDFs, each
    counting values at or below every point (the same side on both)."""
    import numpy as np

    if a.size == 0 or b.size == 0:
        return None
    a, b = np.sort(a), np.sort(b)
    points = np.concatenate([a, b])
    fa = np.searchsorted(a, points, "right") / a.size
    fb = np.searchsorted(b, points, "right") / b.size
    return float(np.abs(fa - fb).max())


def losses(metric: str, pred: Any, label: Any) -> Any:
    """Per-row values whose mean is the metric (rmse: the squared error; see `metric_row`)."""
    import numpy as np

    if metric == "accuracy":
        return (pred == label).astype(float)
    if metric == "error_rate":
        return (pred != label).astype(float)
    if metric == "mae":
        return np.abs(pred - label)
    return (pred - label) ** 2  # mse, rmse


def metric_row(metric: str, a: Moments, b: Moments) -> dict[str, Any]:
    """One metric of both releases, B minus A with its 95% interval, and which is better.
    rmse is the root of the mean squared error; its interval comes from mse's by the delta
    method (the error of sqrt(m) is the error of m over 2 sqrt(m))."""
    va, vb = _value(metric, a), _value(metric, b)
    diff = difference(a, b)
    if metric == "rmse" and diff["low"] is not None and va and vb:
        half = Z95 * math.sqrt(a.var / a.n / (4 * a.mean) + b.var / b.n / (4 * b.mean))
        d = vb - va
        diff = {"difference": d, "low": d - half, "high": d + half,
                "excludes_zero": d - half > 0 or d + half < 0}
    elif metric == "rmse" and va is not None and vb is not None:
        diff = {**diff, "difference": vb - va}
    lower = lower_is_better(metric)
    better = None
    if va is not None and vb is not None and va != vb:
        better = "b" if (vb < va) == lower else "a"
    return {"metric": metric, "a": va, "b": vb, "rows_a": a.n, "rows_b": b.n,
            "lower_is_better": lower, "better": better, **diff}


def _value(metric: str, m: Moments) -> float | None:
    if m.n == 0:
        return None
    return math.sqrt(m.mean) if metric == "rmse" else m.mean
