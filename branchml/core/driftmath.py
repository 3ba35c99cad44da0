"""The maths behind the drift statistics, without SciPy: the two-sample Kolmogorov-Smirnov
statistic and p-value, the Wasserstein-1 distance from binned counts and sums, the chi-squared
test (p-value from the regularised upper incomplete gamma) and the Jensen-Shannon distance.

Numeric features are summarised on a grid of training values `g`: a value x falls in bin
`searchsorted(g, x, "right")`, so bin 0 holds x < g[0], bin j holds g[j-1] <= x < g[j] and the
last bin x >= g[-1]. Per bin a side keeps its count, and the sum of x - low[j] (low: the bin's
left grid point, g[0] for bin 0) so that sums stay small and exact enough in float64.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

EPS = 1e-4  # share given to an empty training bin (PSI, and chi-squared's "other")


def ks_statistic(train_le: Any, train_lt: Any, mon_le: Any, mon_lt: Any) -> float:
    """sup |F_train - F_monitored| from both CDFs at every grid point, at it (<=) and just
    before it (<). With every distinct training value on the grid the sup is reached there
    (between two training values F_train is flat and F_monitored only grows), so it is exact."""
    if len(train_le) == 0:
        return 0.0
    return float(max(np.max(np.abs(train_le - mon_le)), np.max(np.abs(train_lt - mon_lt))))


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Two-sided p-value of a two-sample KS statistic `d` for sample sizes n and m, from the
    one-sample distribution of D_N with N = round(n*m/(n+m)), as SciPy's ks_2samp does above
    10,000 values per side: Pelz and Good's asymptotic series for N > 140 (accurate to about
    1e-5), the Kolmogorov limit with Stephens' correction below (an approximation: SciPy uses
    the exact two-sample distribution there)."""
    if n == 0 or m == 0 or d <= 0:
        return 1.0
    if d >= 1:
        return 0.0
    big_n = round(n * m / (n + m))
    if big_n > 140:
        return min(max(1.0 - pelz_good_cdf(big_n, d), 0.0), 1.0)
    en = math.sqrt(n * m / (n + m))
    return kolmogorov_sf((en + 0.12 + 0.11 / en) * d)


def pelz_good_cdf(n: int, x: float) -> float:
    """P(D_n <= x): K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^1.5 with z = x sqrt(n), each
    term in its theta-function form for small z (Pelz & Good 1976; the arrangement of the
    sums follows SciPy's stats/_ksstats.py, BSD-licensed)."""
    z = math.sqrt(n) * x
    z2 = z * z
    if -math.pi ** 2 / 8 / z2 < -700:
        return 0.0
    q = math.exp(-math.pi ** 2 / 8 / z2)
    pi2, pi4, pi6 = math.pi ** 2, math.pi ** 4, math.pi ** 6
    terms = np.zeros(4)
    for k in range(math.ceil(16 * z / math.pi), 0, -1):  # odd m = 2k - 1, by Horner
        m2 = (2 * k - 1) ** 2
        coeffs = np.array([
            1.0,
            -z2 + pi2 / 4 * m2,
            6 * z2 ** 3 + 2 * z2 ** 2 + (2 * z2 ** 2 - 5 * z2) * pi2 / 4 * m2
            + pi4 * (1 - 2 * z2) / 16 * m2 ** 2,
            -30 * z2 ** 3 - 90 * z2 ** 4 + pi2 * (135 * z2 ** 2 - 96 * z2 ** 3) / 4 * m2
            + pi4 * (-60 * z2 + 212 * z2 ** 2) / 16 * m2 ** 2
            + pi6 * (5 - 30 * z2) / 64 * m2 ** 3])
        terms = terms * q ** (8 * k) + coeffs
    terms *= q * math.sqrt(2 * math.pi) / np.array([z, 6 * z2 ** 2, 72 * z ** 7, 6480 * z ** 10])
    ks = np.arange(math.ceil(16 * z / math.pi), 0, -1, dtype=float)
    powers = np.exp(-pi2 / 2 / z2 * ks ** 2) * ks ** 2
    terms[2] += np.sum(powers) * pi2 * math.sqrt(2 * math.pi) / (-36 * z * z2)
    terms[3] += np.sum((3 * z2 - pi2 * ks ** 2) * powers) * pi2 * math.sqrt(2 * math.pi) \
        / (216 * z2 ** 3)
    return float(np.sum(terms / n ** (np.arange(4) / 2)))


def kolmogorov_sf(lam: float) -> float:
    """P(K > lam) for the Kolmogorov distribution: 2 sum (-1)^(k-1) exp(-2 k^2 lam^2)."""
    if lam < 0.2:
        return 1.0  # the series converges slowly there and the value is 1 to 1e-15
    total, sign = 0.0, 1.0
    for k in range(1, 101):
        term = math.exp(-2.0 * k * k * lam * lam)
        total += sign * term
        if term < 1e-16:
            break
        sign = -sign
    return min(max(2.0 * total, 0.0), 1.0)


def wasserstein(grid: Any, train: tuple[Any, Any, Any], mon: tuple[Any, Any, Any]
                ) -> tuple[float, float]:
    """(W1, error bound) between two distributions given per bin (counts, sums of x - low,
    counts at the bin's low grid point). Per bin, the integral of F_mon - F_train is exact;
    |that integral| is the bin's share of W1 unless the two CDFs cross inside the bin. There
    it falls short by at most twice the bin's width times the smaller of how far
    F_mon - F_train can go above and below 0 in it: the sum over such bins is the bound.
    Below the training minimum and above its maximum there is no crossing: exact."""
    (tc, ts, ta), (mc, ms, ma) = train, mon
    n, m = max(int(tc.sum()), 1), max(int(mc.sum()), 1)
    width = np.concatenate(([0.0], np.diff(grid), [0.0]))
    d_before = np.concatenate(([0], np.cumsum(mc)[:-1])) / m \
        - np.concatenate(([0], np.cumsum(tc)[:-1])) / n
    # integral over [low, high) of F(x) = before * width + (count * width - sum(x - low)) / N
    area = d_before * width + (mc * width - ms) / m - (tc * width - ts) / n
    # below the training minimum F_train is 0; above its maximum both CDFs reach 1
    area[0], area[-1] = -ms[0] / m + ts[0] / n, ms[-1] / m - ts[-1] / n
    at_low = d_before + np.concatenate(([0], ma / m - ta / n))
    top = at_low + (mc - np.concatenate(([0], ma))) / m  # past the low point, F_mon
    bottom = at_low - (tc - np.concatenate(([0], ta))) / n  # and F_train still grow
    reach = np.minimum(np.maximum(top, 0), np.maximum(-bottom, 0))
    return float(np.sum(np.abs(area))), float(np.sum(2 * width * reach))


def on_grid(points: Any, xs: Any) -> tuple[Any, Any, Any]:
    """(counts, sums of x - low, counts at the low point) per bin of the SORTED values `xs`
    (see the module's docstring). The grid points are looked up in the values, both sorted:
    cache-friendly where looking every value up in a large grid is not."""
    lt = np.searchsorted(xs, points, "left")  # values below each point
    le = np.searchsorted(xs, points, "right")  # values at or below it
    bounds = np.concatenate(([0], lt, [len(xs)]))
    counts = np.diff(bounds)
    base = points[0] if len(points) else 0.0
    # cumulative sums of x - g[0] stay small numbers whatever the column's offset
    cum = np.concatenate(([0.0], np.cumsum(xs - base)))
    low = np.concatenate((points[:1], points)) if len(points) else np.zeros(1)
    return counts, np.diff(cum[bounds]) - counts * (low - base), le - lt


def chi2(observed: Any, shares: Any) -> tuple[float, float]:
    """(statistic, p-value) of Pearson's goodness of fit of `observed` counts against the
    expected `shares` (summing to 1), with len(observed) - 1 degrees of freedom."""
    obs = np.asarray(observed, dtype=float)
    total = obs.sum()
    if total == 0 or len(obs) < 2:
        return 0.0, 1.0
    exp = np.asarray(shares, dtype=float) * total
    stat = float(np.sum((obs - exp) ** 2 / exp))
    return stat, chi2_sf(stat, len(obs) - 1)


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for a chi-squared variable: the regularised upper incomplete gamma Q(k/2, x/2)."""
    return gamma_q(dof / 2.0, x / 2.0) if x > 0 else 1.0


def gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a): the series for P below a + 1, Lentz's continued
    fraction above (Numerical Recipes, 6.2), both to 1e-15."""
    if x <= 0:
        return 1.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < 1e-16:
            break
    return min(1.0, math.exp(log_front) * h)


def jensen_shannon(p: Any, q: Any) -> float:
    """Jensen-Shannon distance with the natural logarithm (the square root of the divergence,
    within [0, sqrt(ln 2)] = [0, 0.833]) between two count vectors over the same bins: SciPy's
    `jensenshannon` default, which Evidently reports and its 0.1 threshold is set for."""
    a = np.asarray(p, dtype=float)
    b = np.asarray(q, dtype=float)
    if a.sum() == 0 or b.sum() == 0:
        return 0.0
    a, b = a / a.sum(), b / b.sum()
    mid = (a + b) / 2

    def kl(x: Any) -> float:
        keep = x > 0
        return float(np.sum(x[keep] * np.log(x[keep] / mid[keep])))

    return math.sqrt(max((kl(a) + kl(b)) / 2, 0.0))


def psi(expected: Any, actual: Any) -> float:
    """Population stability index of two count vectors; an empty bin counts as EPS."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e = np.maximum(e / max(e.sum(), 1), EPS)
    a = np.maximum(a / max(a.sum(), 1), EPS)
    return float(np.sum((a - e) * np.log(a / e)))
