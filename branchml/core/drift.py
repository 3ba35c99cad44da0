"""Drift statistics, streamed: training summarised once, monitored data added chunk by chunk
(bounded memory whatever the number of rows); every figure covers every row. NumPy does the
arithmetic, core/driftmath.py the tests, core/stream.py the moments and the sample.

- numeric features: PSI on BINS bins cut at training quantiles; KS (and its p-value) and the
  Wasserstein-1 distance normed by the training standard deviation, from counts and sums on a
  grid of every distinct training value (training quantiles when there are more than GRID);
  share of values outside the training range; missing-value rate; exact mean and std.
- categorical features: PSI, chi-squared (and its p-value) and the Jensen-Shannon distance over
  the training categories plus "(other)"; share of "(other)"; missing-value rate.
A tracker keeps the training summary apart from the monitored accumulators: `fresh()` gives an
empty accumulator on the same summary (per time window, for instance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from branchml.core import driftmath
from branchml.core.stream import SAMPLE as SAMPLE
from branchml.core.stream import SEED as SEED
from branchml.core.stream import Moments, Reservoir
from branchml.core.stream import Prediction as Prediction

BINS = 10
GRID = 65_536  # distinct training values kept exactly; above, training quantiles
COARSE = 1_024  # grid of a coarse accumulator (one per time window)
OTHER = "(other)"
NUMERIC = ("psi", "ks", "ks_pvalue", "wasserstein", "outside_range", "missing")
CATEGORICAL = ("psi", "chi2", "chi2_pvalue", "js", "outside_range", "missing")
LOWER_ALERTS = ("ks_pvalue", "chi2_pvalue")  # a p-value alerts when below its limit
DEFAULT_LIMITS: dict[str, float | None] = {
    "psi": 0.2, "ks": 0.2, "outside_range": 0.05, "missing": 0.1, "wasserstein": 0.1,
    "js": 0.1, "ks_pvalue": None, "chi2": None, "chi2_pvalue": None}
psi = driftmath.psi


@dataclass
class Grid:
    """The points monitored values are counted on, and the training values binned on them
    (counts, sums, counts at each point), computed when first needed: never during the loop
    over monitored rows, whose peak memory this keeps down."""

    points: Any
    source: Any  # the sorted training values
    _train: tuple[Any, Any, Any] | None = None

    @classmethod
    def of(cls, train: Any, cap: int) -> Grid:
        points = np.unique(train)
        if len(points) > cap:
            points = np.unique(sorted_quantiles(train, np.linspace(0, 1, cap)))
        elif 1 < len(points) < cap:
            points = subdivided(points, cap)
        return cls(points, train)

    @property
    def train(self) -> tuple[Any, Any, Any]:
        if self._train is None:
            self._train = driftmath.on_grid(self.points, self.source)
        return self._train


def sorted_quantiles(ordered: Any, q: Any) -> Any:
    """np.quantile's default (linear interpolation) of already sorted values, by indexing:
    np.quantile partitions once per quantile, 145 s for 65,536 quantiles of 200,000 values
    over 20 features; this is a gather."""
    h = (len(ordered) - 1) * np.asarray(q, dtype=float)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def subdivided(points: Any, cap: int) -> Any:
    """`points` with each interval between two of them cut evenly into the same number of
    parts, so there are `cap` to 2 `cap` points.
    Wasserstein per bin is exact only where the two CDFs do not cross inside the bin: with few
    distinct training values the bins are wide and W came out up to 9% low. A sub-point holds
    no training value, so the training counts per bin and the KS (still evaluated at every
    training value, F_train flat between) stay exact."""
    k = -(-(cap - 1) // (len(points) - 1))  # ceiling: 569 values on a 1,024 grid cut in 2
    steps = points[:-1, None] + np.diff(points)[:, None] * (np.arange(k) / k)
    return np.unique(np.concatenate((steps.ravel(), points)))


@dataclass
class NumericSummary:
    """What a numeric feature's statistics need of its training data, computed once."""

    name: str
    train: Any  # sorted finite training values (handed to user checks)
    seed: int
    edges: Any = None
    expected: Any = None
    moments: Moments = field(default_factory=Moments)
    grids: dict[bool, Grid] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.edges = np.unique(np.quantile(self.train, np.linspace(0, 1, BINS + 1))[1:-1]) \
            if len(self.train) else np.empty(0)  # a column empty in training: one bin
        self.expected = np.bincount(np.searchsorted(self.edges, self.train, "right"),
                                    minlength=len(self.edges) + 1)
        self.moments.add(self.train)

    def grid(self, coarse: bool) -> Grid:
        if coarse not in self.grids:
            self.grids[coarse] = Grid.of(self.train, COARSE if coarse else GRID)
        return self.grids[coarse]


class NumericFeature:
    """A numeric feature's monitored accumulators on a shared training summary."""

    def __init__(self, name: str, train: Any, seed: int = SEED, *,
                 summary: NumericSummary | None = None, coarse: bool = False) -> None:
        self.summary = summary or NumericSummary(name, np.sort(train[np.isfinite(train)]), seed)
        self.name = name
        self.grid = self.summary.grid(coarse)
        size = len(self.grid.points) + 1
        self.counts = np.zeros(len(self.summary.edges) + 1, dtype=np.int64)
        self.on_grid = np.zeros(size, dtype=np.int64)  # values in each grid bin
        self.at_point = np.zeros(size - 1, dtype=np.int64)  # values equal to a grid point
        self.sums = np.zeros(size, dtype=float)
        self.moments = Moments()
        self.reservoir = Reservoir(0 if coarse else SAMPLE, self.summary.seed, name)
        self.n = self.missing = self.outside = 0

    @property
    def train(self) -> Any:
        return self.summary.train

    @property
    def train_rows(self) -> int:
        return len(self.summary.train)

    def fresh(self, coarse: bool = False) -> NumericFeature:
        """An empty accumulator on the same training summary (coarse: a small KS grid)."""
        return NumericFeature(self.name, None, summary=self.summary, coarse=coarse)

    def add(self, values: Any) -> None:
        finite = values[np.isfinite(values)]  # inf counts as missing: no moment holds it
        self.missing += len(values) - len(finite)
        self.n += len(values)
        xs = np.sort(finite)  # sorted once: every lookup below goes into it
        bounds = np.concatenate(([0], np.searchsorted(xs, self.summary.edges), [len(xs)]))
        self.counts += np.diff(bounds)
        counts, sums, at = driftmath.on_grid(self.grid.points, xs)
        self.on_grid += counts
        self.sums += sums
        self.at_point += at
        if len(self.train):
            self.outside += int(np.searchsorted(xs, self.train[0]) + len(xs)
                                - np.searchsorted(xs, self.train[-1], "right"))
        self.moments.add(xs)
        self.reservoir.add(finite)

    def result(self) -> dict[str, Any]:
        s, seen = self.summary, self.n - self.missing
        ks = self._ks()
        train_std = s.moments.std
        out = {"feature": self.name, "kind": "numeric", "rows": self.n,
               "missing": self.missing / self.n if self.n else 0.0,
               "outside_range": self.outside / seen if seen else 0.0,
               "psi": psi(s.expected, self.counts), "ks": ks,
               "ks_pvalue": driftmath.ks_pvalue(ks, len(self.train), seen),
               "wasserstein": self._wasserstein() / max(train_std or 0.0, 1e-3),
               "chi2": None, "chi2_pvalue": None, "js": None,
               "mean": self.moments.mean if seen else None, "std": self.moments.std,
               "train_mean": s.moments.mean if s.moments.n else None, "train_std": train_std,
               "train_hist": s.expected.tolist(), "hist": self.counts.tolist(),
               "edges": [s.moments.low, *s.edges.tolist(), s.moments.high]
               if s.moments.n else []}
        if seen == 0:  # atk19-13: no monitored value is no evidence of drift (was PSI 6.9)
            out.update(dict.fromkeys(("outside_range", "psi", "ks", "ks_pvalue", "wasserstein"),
                                     None), note="no monitored values")
        return out

    def _ks(self) -> float:
        seen = self.n - self.missing
        if seen == 0:
            return 0.0
        counts, _, at = self.grid.train
        t_lt = np.cumsum(counts)[:-1] / len(self.train)  # F_train just before each point
        lt = np.cumsum(self.on_grid)[:-1] / seen
        return driftmath.ks_statistic(t_lt + at / len(self.train), t_lt,
                                      lt + self.at_point / seen, lt)

    def _wasserstein(self) -> float:
        if self.n == self.missing or not len(self.train):
            return 0.0
        return driftmath.wasserstein(self.grid.points, self.grid.train,
                                     (self.on_grid, self.sums, self.at_point))[0]


@dataclass
class CategoricalSummary:
    name: str
    categories: list[str]
    expected: list[int]


class CategoricalFeature:
    """A categorical feature's monitored counts on a shared training summary."""

    def __init__(self, name: str, train: list[str] | None,
                 summary: CategoricalSummary | None = None) -> None:
        if summary is None:
            labels, counts = np.unique(np.asarray([v for v in train or () if v != ""],
                                                  dtype=str), return_counts=True)
            summary = CategoricalSummary(name, labels.tolist(), counts.tolist())
        self.summary, self.name = summary, name
        self.index = {c: i for i, c in enumerate(summary.categories)}
        self.counts = np.zeros(len(summary.categories) + 1, dtype=np.int64)
        self.n = self.missing = 0

    @property
    def categories(self) -> list[str]:
        return self.summary.categories

    @property
    def train_rows(self) -> int:
        return sum(self.summary.expected)

    def fresh(self, coarse: bool = False) -> CategoricalFeature:
        """An empty accumulator on the same training categories (coarse changes nothing)."""
        return CategoricalFeature(self.name, None, self.summary)

    def add(self, values: list[str]) -> None:
        self.n += len(values)
        labels, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
        other = len(self.categories)
        for label, count in zip(labels.tolist(), counts.tolist(), strict=True):
            if label == "":
                self.missing += count
            else:
                self.counts[self.index.get(label, other)] += count

    def result(self) -> dict[str, Any]:
        actual = self.counts.tolist()
        expected = [*self.summary.expected, 0]
        shares = np.asarray(expected, dtype=float) / max(sum(expected), 1)
        observed = actual
        if actual[-1] == 0:  # nothing new: test over the training categories alone
            shares, observed = shares[:-1], actual[:-1]
        else:  # a label never trained on gets EPS of the expected mass, not zero
            shares = np.maximum(shares, driftmath.EPS)
            shares = shares / shares.sum()
        stat, pvalue = driftmath.chi2(observed, shares)
        out = {"feature": self.name, "kind": "categorical", "rows": self.n,
               "missing": self.missing / self.n if self.n else 0.0,
               "outside_range": actual[-1] / max(self.n - self.missing, 1),
               "psi": psi(expected, actual), "ks": None, "ks_pvalue": None,
               "wasserstein": None, "chi2": stat, "chi2_pvalue": pvalue,
               "js": driftmath.jensen_shannon(expected, actual),
               "mean": None, "std": None, "train_mean": None, "train_std": None,
               "train_hist": expected, "hist": actual,
               "categories": [*self.categories, OTHER]}
        if self.n == self.missing:  # atk19-13: no monitored value: no statistic, no alert
            out.update(dict.fromkeys(("outside_range", "psi", "chi2", "chi2_pvalue", "js"),
                                     None), note="no monitored values")
        return out


SMALL_REFERENCE = 1_000  # training rows at or below which the default distances stay off
DISTANCES = ("wasserstein", "js")


def limits_for(train_rows: int, thresholds: dict[str, float | None],
               own: dict[str, float | None]) -> dict[str, float | None]:
    """A feature's limits: its own (`monitor.features.<name>`) over `monitor.thresholds` over
    the defaults. As in Evidently, the default Wasserstein and Jensen-Shannon limits apply to
    training data of more than SMALL_REFERENCE rows only: below, sampling noise alone passes
    0.1. A limit the config names applies whatever the size."""
    out = {**DEFAULT_LIMITS, **thresholds, **own}
    if train_rows <= SMALL_REFERENCE:
        for key in DISTANCES:
            if key not in thresholds and key not in own:
                out[key] = None
    return out


def applied(kind: str, limits: dict[str, float | None]) -> dict[str, float]:
    """The limits that apply to a feature of this kind ("numeric" or "categorical")."""
    keys = NUMERIC if kind == "numeric" else CATEGORICAL
    return {k: float(v) for k in keys if (v := limits.get(k)) is not None}


def shown(value: float, limit: float | None = None, digits: int = 3) -> str:
    """`value` as text with enough significant digits (`digits` at least) that it reads on the same
    side of `limit` as it is: 0.199969 against 0.2 shows 0.19997, never 0.2 or 0.200."""
    side = 0 if limit is None else (value > limit) - (value < limit)
    for d in range(digits, 18):
        text = f"{value:.{d}g}"
        if limit is None or (float(text) > limit) - (float(text) < limit) == side:
            return text
    return repr(value)


def exact(limit: float) -> str:
    """A limit as configured (0.01122177, never 0.0112218): the float's repr, "1" for 1.0."""
    text = repr(float(limit))
    return text.removesuffix(".0")


def alerts(result: dict[str, Any], limits: dict[str, float]) -> list[str]:
    """One string per statistic past its limit: above it, or below it for a p-value."""
    out = []
    for key, limit in limits.items():
        value = result.get(key)
        if value is None or limit is None or (isinstance(value, float) and math.isnan(value)):
            continue
        below = key in LOWER_ALERTS
        if (value < limit) if below else (value > limit):
            out.append(f"{result['feature']}: {key} {shown(value, limit)} "
                       f"{'<' if below else '>'} {exact(limit)}")
    return out
