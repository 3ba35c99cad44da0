"""Figures over every row of a stream of chunks: exact moments (Chan's parallel formula in
float64), a seeded uniform reservoir sample (Algorithm R, vectorised per chunk), and the
prediction column's figures built from both."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

SEED = 19  # the sample's seed when the config names none: reruns give the same figures
SAMPLE = 100_000  # values per column kept for user checks, uniform over every row
HIST = 20  # bins of the prediction's histogram


@dataclass
class Moments:
    """Count, mean, sum of squared deviations, minimum and maximum of finite values."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def add(self, finite: Any) -> None:
        k = len(finite)
        if k == 0:
            return
        mean = float(np.mean(finite))
        m2 = float(np.sum((finite - mean) ** 2))
        total = self.n + k
        delta = mean - self.mean
        # Chan et al.: merging two partial results stays exact where a running sum of
        # squares would cancel catastrophically for large means
        self.m2 += m2 + delta * delta * self.n * k / total
        self.mean += delta * k / total
        self.n = total
        self.low = min(self.low, float(np.min(finite)))
        self.high = max(self.high, float(np.max(finite)))

    @property
    def var(self) -> float:
        """Sample variance (ddof 1), as a confidence interval wants it; 0 below two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0

    @property
    def std(self) -> float | None:
        """Population standard deviation (ddof 0, as NumPy's default)."""
        return math.sqrt(self.m2 / self.n) if self.n else None

    def figures(self) -> dict[str, float | None]:
        if not self.n:
            return {"mean": None, "std": None, "min": None, "max": None}
        return {"mean": self.mean, "std": self.std, "min": self.low, "max": self.high}


class Reservoir:
    """A uniform sample of at most `size` values from every value ever added: value i
    (0-based) replaces a random slot with probability size / (i + 1), as Algorithm R does."""

    def __init__(self, size: int, seed: int, name: str) -> None:
        self.size = size
        self.seen = 0
        self.values = np.empty(size, dtype=float)
        # one stream per column, so adding a column does not change another's sample
        self.rng = np.random.default_rng([seed, zlib.crc32(name.encode())])

    def add(self, finite: Any) -> None:
        start, k = self.seen, len(finite)
        self.seen += k
        fill = max(0, min(self.size - start, k))
        self.values[start:start + fill] = finite[:fill]
        rest = finite[fill:]
        if not len(rest) or not self.size:  # a window's accumulator keeps no sample
            return
        index = np.arange(start + fill, start + k, dtype=float)
        taken = self.rng.random(len(rest)) < self.size / (index + 1)
        slots = self.rng.integers(0, self.size, int(taken.sum()))
        # a later value taking the same slot wins, as it would one value at a time
        self.values[slots] = rest[taken]

    def sample(self) -> Any:
        return self.values[: min(self.seen, self.size)]


class Prediction:
    """The prediction column: exact moments, and a histogram from the uniform sample."""

    def __init__(self, column: str, seed: int = SEED) -> None:
        self.column = column
        self.moments = Moments()
        self.reservoir = Reservoir(SAMPLE, seed, column)

    def add(self, values: Any) -> None:
        finite = values[np.isfinite(values)]
        self.moments.add(finite)
        self.reservoir.add(finite)

    def result(self) -> dict[str, Any]:
        m = self.moments
        if not m.n:
            return {"column": self.column, "rows": 0, **m.figures(), "hist": [], "edges": []}
        edges = np.linspace(m.low, m.high, HIST + 1) if m.high > m.low \
            else np.asarray([m.low, m.high])
        hist = np.histogram(self.reservoir.sample(), bins=edges)[0] if m.high > m.low \
            else np.asarray([len(self.reservoir.sample())])
        return {"column": self.column, "rows": m.n, **m.figures(), "hist": hist.tolist(),
                "edges": edges.tolist()}
