"""Drift statistics, streamed: training summarised once, monitored data added chunk by chunk
(bounded memory whatever the number of rows). NumPy does the arithmetic.

- numeric features: bins on the training quantiles; PSI over those bins; a two-sample
  Kolmogorov-Smirnov statistic from the cumulative counts on fine training-quantile bins
  (accurate to 1/FINE of the training distribution; SciPy's exact `ks_2samp` on a bounded
  sample is used instead when SciPy is installed); share of values outside the training
  range; missing-value rate.
- categorical features: PSI over the training categories (plus "other"); missing rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

BINS = 10
FINE = 1000
EPS = 1e-4
SAMPLE = 200_000  # values per feature kept for an exact KS when SciPy is there


def psi(expected: Any, actual: Any) -> float:
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e = np.maximum(e / max(e.sum(), 1), EPS)
    a = np.maximum(a / max(a.sum(), 1), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass
class NumericFeature:
    name: str
    train: Any  # training values (finite floats)
    edges: Any = None
    fine: Any = None
    counts: Any = None
    fine_counts: Any = None
    n: int = 0
    missing: int = 0
    outside: int = 0
    sample: list[Any] = field(default_factory=list)
    kept: int = 0

    def __post_init__(self) -> None:
        t = np.sort(self.train)
        self.train = t
        self.edges = np.unique(np.quantile(t, np.linspace(0, 1, BINS + 1))[1:-1])
        self.fine = np.unique(np.quantile(t, np.linspace(0, 1, FINE + 1))[1:-1])
        self.counts = np.zeros(len(self.edges) + 1, dtype=np.int64)
        self.fine_counts = np.zeros(len(self.fine) + 1, dtype=np.int64)

    def add(self, values: Any) -> None:
        finite = values[~np.isnan(values)]
        self.missing += len(values) - len(finite)
        self.n += len(values)
        self.counts += np.bincount(np.searchsorted(self.edges, finite, "right"),
                                   minlength=len(self.counts))
        self.fine_counts += np.bincount(np.searchsorted(self.fine, finite, "right"),
                                        minlength=len(self.fine_counts))
        self.outside += int(np.sum((finite < self.train[0]) | (finite > self.train[-1])))
        if self.kept < SAMPLE:
            take = finite[: SAMPLE - self.kept]
            self.sample.append(take)
            self.kept += len(take)

    def result(self) -> dict[str, Any]:
        seen = self.n - self.missing
        expected = np.bincount(np.searchsorted(self.edges, self.train, "right"),
                               minlength=len(self.counts))
        return {"feature": self.name, "kind": "numeric", "rows": self.n,
                "psi": round(psi(expected, self.counts), 6), "ks": round(self._ks(), 6),
                "outside_range": round(self.outside / seen, 6) if seen else 0.0,
                "missing": round(self.missing / self.n, 6) if self.n else 0.0,
                "train_hist": expected.tolist(), "hist": self.counts.tolist()}

    def _ks(self) -> float:
        if self.n - self.missing == 0:
            return 0.0
        try:
            from scipy.stats import ks_2samp
        except ImportError:
            t_cdf = np.searchsorted(self.train, self.fine, "right") / len(self.train)
            m_cdf = np.cumsum(self.fine_counts)[:-1] / max(self.fine_counts.sum(), 1)
            return float(np.max(np.abs(t_cdf - m_cdf))) if len(self.fine) else 0.0
        return float(ks_2samp(self.train, np.concatenate(self.sample)).statistic)


@dataclass
class CategoricalFeature:
    name: str
    train: list[str]
    categories: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    n: int = 0
    missing: int = 0

    def __post_init__(self) -> None:
        values, counts = np.unique(np.asarray([v for v in self.train if v != ""]),
                                   return_counts=True)
        self.categories = values.tolist()
        self.expected = counts.tolist()

    def add(self, values: list[str]) -> None:
        self.n += len(values)
        for v in values:
            if v == "":
                self.missing += 1
            else:
                key = v if v in self.counts or v in self.categories else "\0other"
                self.counts[key] = self.counts.get(key, 0) + 1

    def result(self) -> dict[str, Any]:
        actual = [self.counts.get(c, 0) for c in self.categories] + [
            self.counts.get("\0other", 0)]
        expected = [*self.expected, 0]
        return {"feature": self.name, "kind": "categorical", "rows": self.n,
                "psi": round(psi(expected, actual), 6), "ks": None,
                "outside_range": round(actual[-1] / max(self.n - self.missing, 1), 6),
                "missing": round(self.missing / self.n, 6) if self.n else 0.0,
                "train_hist": expected, "hist": actual}


def shown(value: float, limit: float | None = None) -> str:
    """`value` as text with enough significant digits (3 at least) that it reads on the same
    side of `limit` as it is: 0.199969 against 0.2 shows 0.19997, never 0.2 or 0.200."""
    side = 0 if limit is None else (value > limit) - (value < limit)
    for digits in range(3, 18):
        text = f"{value:.{digits}g}"
        if limit is None or (float(text) > limit) - (float(text) < limit) == side:
            return text
    return repr(value)


def alerts(result: dict[str, Any], limits: dict[str, float]) -> list[str]:
    out = []
    for key in ("psi", "ks", "outside_range", "missing"):
        value, limit = result.get(key), limits.get(key)
        if value is not None and limit is not None and value > limit:
            out.append(f"{result['feature']}: {key} {shown(value, limit)} > {limit:g}")
    return out
