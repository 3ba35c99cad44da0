"""Issue 19, statistics that are right: core/drift.py and its maths against SciPy, and
`branchml monitor check` on real repositories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from branchml.core import drift, driftmath, stream
from tests.conftest import commit, git, release_for_monitoring, write

stats = pytest.importorskip("scipy.stats")
jensenshannon = pytest.importorskip("scipy.spatial.distance").jensenshannon


@pytest.mark.parametrize(("value", "limit", "text"), [
    (0.199969, 0.2, "0.19997"),
    (0.2001, 0.2, "0.2001"),
    (0.2000001, 0.2, "0.2000001"),
    (0.2, 0.2, "0.2"),
    (0.0003, 0.05, "0.0003"),
    (0.123456, 0.2, "0.123"),
    (0.049999999, 0.05, "0.049999999"),
    (12.3456, None, "12.3"),
])
def test_shown_reads_on_the_right_side_of_its_limit(value: float, limit: float | None,
                                                   text: str) -> None:
    assert drift.shown(value, limit) == text


def test_psi_just_under_the_threshold_never_prints_as_the_threshold() -> None:
    r = {"feature": "x1", "psi": 0.200031, "ks": 0.199969}
    assert drift.alerts(r, {"psi": 0.2, "ks": 0.2}) == ["x1: psi 0.20003 > 0.2"]


# -- KS over every row, exact on the training grid --------------------------------------------
def _fed(name: str, train: Any, monitored: Any, chunk: int = 50_000) -> dict[str, Any]:
    f = drift.NumericFeature(name, train)
    for i in range(0, len(monitored), chunk):
        f.add(monitored[i:i + chunk])
    return f.result()


def _data(kind: str, shift: float, n: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    if kind == "poisson":
        return rng.poisson(3 + shift, n).astype(float)
    if kind == "integer":
        return rng.integers(0, 50 + int(10 * shift), n).astype(float)
    if kind == "continuous":
        return rng.normal(shift, 1, n)
    half = n // 2  # mixed: a spike of repeated values beside a continuous part
    return np.concatenate([rng.poisson(2 + shift, half), rng.normal(5, 2 + shift, n - half)])


@pytest.mark.parametrize("kind", ["poisson", "integer", "continuous", "mixed"])
@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_ks_matches_scipy_on_every_row(kind: str, shift: float) -> None:
    train, seen = _data(kind, 0.0, 20_000, 1), _data(kind, shift, 130_000, 2)
    r = _fed("x", train, seen, chunk=7_000)
    exact = stats.ks_2samp(train, seen)
    assert r["ks"] == pytest.approx(exact.statistic, abs=1e-3)
    assert r["ks_pvalue"] == pytest.approx(exact.pvalue, abs=1e-3)


def test_the_issues_poisson_feature() -> None:
    """KS 0.326 against an exact 0.111 before: the two sides were counted on different sides
    of each cut point."""
    rng = np.random.default_rng(19)
    train, seen = rng.poisson(2, 10_000).astype(float), rng.poisson(2.6, 10_000).astype(float)
    assert _fed("x", train, seen)["ks"] == pytest.approx(stats.ks_2samp(train, seen).statistic,
                                                         abs=1e-12)


@pytest.mark.parametrize("kind", ["poisson", "integer", "continuous", "mixed"])
def test_training_rows_as_monitored_data_score_zero(kind: str) -> None:
    train = _data(kind, 0.0, 20_000, 3)
    r = _fed("x", train, train, chunk=3_000)
    assert r["ks"] == 0 and r["ks_pvalue"] == 1 and r["wasserstein"] == pytest.approx(0, abs=1e-9)
    assert r["psi"] == 0 and r["outside_range"] == 0
    assert drift.alerts(r, drift.applied("numeric", drift.DEFAULT_LIMITS)) == []


def test_more_distinct_training_values_than_the_grid_use_quantiles() -> None:
    train, seen = _data("continuous", 0, 200_000, 4), _data("continuous", 0.05, 100_000, 5)
    f = drift.NumericFeature("x", train)
    f.add(seen)
    assert len(f.grid.points) == drift.GRID  # the error is at most 1/GRID of training mass
    assert f.result()["ks"] == pytest.approx(stats.ks_2samp(train, seen).statistic,
                                             abs=2 / drift.GRID)


def test_fresh_shares_the_training_summary_and_coarse_is_small() -> None:
    train, seen = _data("continuous", 0, 50_000, 6), _data("continuous", 0.2, 20_000, 7)
    whole = drift.NumericFeature("x", train)
    window = whole.fresh(coarse=True)
    assert window.summary is whole.summary and len(window.grid.points) <= drift.COARSE
    assert window.reservoir.size == 0  # no sample per window
    window.add(seen)
    again = whole.fresh()
    again.add(seen)
    assert again.result()["ks"] == pytest.approx(stats.ks_2samp(train, seen).statistic,
                                                 abs=1e-9)
    assert window.result()["ks"] == pytest.approx(again.result()["ks"], abs=2 / drift.COARSE)
    assert whole.n == 0  # the original accumulator stayed empty
    cat = drift.CategoricalFeature("c", ["a", "b", "b"])
    other = cat.fresh(coarse=True)
    other.add(["b", "z"])
    assert other.summary is cat.summary and cat.n == 0 and other.result()["hist"] == [0, 1, 1]


# -- KS p-value, Wasserstein, chi-squared, Jensen-Shannon against SciPy -----------------------
@pytest.mark.parametrize("shift", [0.0, 0.01, 0.02, 0.03, 0.05])
def test_ks_pvalue_matches_scipy_over_ten_thousand_per_side(shift: float) -> None:
    rng = np.random.default_rng(8)
    train, seen = rng.normal(0, 1, 12_000), rng.normal(shift, 1, 15_000)
    exact = stats.ks_2samp(train, seen)
    mine = driftmath.ks_pvalue(float(exact.statistic), len(train), len(seen))
    assert mine == pytest.approx(exact.pvalue, abs=1e-3)


@pytest.mark.parametrize("n", [141, 5_000, 60_000])
def test_the_pelz_good_series_follows_scipys_kstwo(n: int) -> None:
    for x in np.linspace(0.1, 6, 60) / np.sqrt(n):
        assert 1 - driftmath.pelz_good_cdf(n, float(x)) == pytest.approx(
            stats.kstwo.sf(x, n), abs=1e-5)


def test_ks_pvalue_at_its_ends_and_for_small_samples() -> None:
    assert driftmath.ks_pvalue(0.0, 10, 10) == 1 and driftmath.ks_pvalue(1.0, 10, 10) == 0
    assert driftmath.ks_pvalue(0.3, 0, 10) == 1
    rng = np.random.default_rng(14)
    a, b = rng.normal(0, 1, 60), rng.normal(0.5, 1, 80)  # SciPy: exact; here: approximate
    exact = stats.ks_2samp(a, b)
    assert driftmath.ks_pvalue(float(exact.statistic), 60, 80) == pytest.approx(exact.pvalue,
                                                                               abs=0.05)


@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.0), (0.1, 1.0), (0.0, 1.3), (1.0, 0.5)])
def test_wasserstein_matches_scipy_normed_by_the_training_std(shift: float,
                                                              scale: float) -> None:
    rng = np.random.default_rng(9)
    train, seen = rng.normal(0, 2, 100_000), rng.normal(shift, 2 * scale, 150_000)
    exact = stats.wasserstein_distance(train, seen) / np.std(train)
    assert _fed("x", train, seen)["wasserstein"] == pytest.approx(exact, rel=1e-3)


@pytest.mark.parametrize("kind", ["poisson", "integer", "continuous", "mixed"])
def test_wasserstein_error_stays_within_its_bound(kind: str) -> None:
    train, seen = _data(kind, 0, 30_000, 10), _data(kind, 0.2, 40_000, 11)
    f = drift.NumericFeature("x", train)
    f.add(seen)
    value, bound = driftmath.wasserstein(f.grid.points, f.grid.train,
                                         (f.on_grid, f.sums, f.at_point))
    assert abs(value - stats.wasserstein_distance(train, seen)) <= bound + 1e-9


@pytest.mark.parametrize(("x", "dof"), [(0.001, 3), (0.5, 1), (3.0, 4), (30.0, 10), (100, 80),
                                        (250.0, 200), (7.0, 25), (1e4, 9)])
def test_chi2_pvalue_is_the_upper_incomplete_gamma(x: float, dof: int) -> None:
    assert driftmath.chi2_sf(x, dof) == pytest.approx(stats.chi2.sf(x, dof), rel=1e-9,
                                                      abs=1e-300)


def test_categorical_chi2_and_js_match_scipy() -> None:
    rng = np.random.default_rng(12)
    train = rng.choice(list("abcd"), 5_000, p=[0.4, 0.3, 0.2, 0.1]).tolist()
    seen = rng.choice(list("abcd"), 8_000, p=[0.35, 0.3, 0.25, 0.1]).tolist()
    f = drift.CategoricalFeature("c", train)
    f.add(seen[:3_000])
    f.add(seen[3_000:])
    r = f.result()
    expected = np.asarray(r["train_hist"][:-1], dtype=float)
    observed = np.asarray(r["hist"][:-1], dtype=float)
    chi = stats.chisquare(observed, expected / expected.sum() * observed.sum())
    assert r["chi2"] == pytest.approx(chi.statistic, rel=1e-9)
    assert r["chi2_pvalue"] == pytest.approx(chi.pvalue, rel=1e-6, abs=1e-12)
    assert r["js"] == pytest.approx(jensenshannon(r["train_hist"], r["hist"]), rel=1e-9)
    assert r["categories"] == ["a", "b", "c", "d", "(other)"]


def test_a_label_never_trained_on_is_tested_against_a_small_share() -> None:
    f = drift.CategoricalFeature("c", ["a"] * 60 + ["b"] * 40)
    f.add(["a"] * 50 + ["b"] * 40 + ["new"] * 10 + [""] * 5)
    r = f.result()
    shares = np.maximum(np.asarray([0.6, 0.4, 0.0]), driftmath.EPS)
    chi = stats.chisquare([50, 40, 10], shares / shares.sum() * 100)
    assert r["chi2"] == pytest.approx(chi.statistic) and r["chi2_pvalue"] < 1e-12
    assert r["js"] == pytest.approx(jensenshannon([60, 40, 0], [50, 40, 10]))
    assert r["outside_range"] == 0.1 and r["missing"] == pytest.approx(5 / 105)


# -- every figure over every row: moments and the seeded sample -------------------------------
def test_moments_are_exact_over_chunks_far_from_zero() -> None:
    values = 1e9 + np.random.default_rng(13).normal(0, 1e-3, 300_000)
    m = stream.Moments()
    for i in range(0, len(values), 40_000):
        m.add(values[i:i + 40_000])
    assert m.mean == pytest.approx(float(np.mean(values)), rel=1e-15)
    assert m.std == pytest.approx(float(np.std(values)), rel=1e-6)
    assert (m.low, m.high) == (values.min(), values.max())


def test_the_reservoir_is_uniform_over_every_row_and_seeded() -> None:
    # 200k old rows then 100k new rows: a third of a uniform sample is new
    values = np.concatenate([np.zeros(200_000), np.ones(100_000)])

    def sample(seed: int) -> Any:
        r = stream.Reservoir(10_000, seed, "x")
        for i in range(0, len(values), 50_000):
            r.add(values[i:i + 50_000])
        return r.sample()

    first = sample(1)
    assert len(first) == 10_000 and first.mean() == pytest.approx(1 / 3, abs=0.02)
    assert np.array_equal(first, sample(1)) and not np.array_equal(first, sample(2))
    short = stream.Reservoir(10, 1, "x")
    short.add(np.arange(4.0))
    assert short.sample().tolist() == [0, 1, 2, 3]


def test_the_prediction_covers_every_row() -> None:
    p = drift.Prediction("prediction")
    for _ in range(4):
        p.add(np.full(50_000, 0.2))
    p.add(np.concatenate([np.full(100_000, 0.8), [np.nan]]))
    r = p.result()
    assert r["rows"] == 300_000 and r["mean"] == pytest.approx(0.4)
    assert (r["min"], r["max"]) == (0.2, 0.8) and len(r["edges"]) == len(r["hist"]) + 1
    assert sum(r["hist"]) == drift.SAMPLE
    assert r["hist"][-1] == pytest.approx(drift.SAMPLE / 3, rel=0.05)


def test_an_infinite_value_counts_as_missing() -> None:
    f = drift.NumericFeature("x", np.asarray([1.0, 2.0, np.inf, 3.0]))
    f.add(np.asarray([1.0, -np.inf, np.nan, 2.0]))
    r = f.result()
    assert r["missing"] == 0.5 and r["mean"] == 1.5 and r["train_mean"] == 2.0
    assert json.dumps(r, allow_nan=False)  # nothing in it that JSON cannot carry
    p = drift.Prediction("p")
    p.add(np.asarray([np.inf, 1.0]))
    assert p.result()["mean"] == 1.0 and p.result()["rows"] == 1


# -- thresholds --------------------------------------------------------------------------------
def test_p_values_alert_below_their_limit() -> None:
    r = {"feature": "x1", "psi": 0.01, "ks_pvalue": 0.0003, "wasserstein": 0.1000004}
    limits = drift.applied("numeric", {**drift.DEFAULT_LIMITS, "ks_pvalue": 0.05})
    assert limits == {"psi": 0.2, "ks": 0.2, "ks_pvalue": 0.05, "wasserstein": 0.1,
                      "outside_range": 0.05, "missing": 0.1}
    assert drift.alerts(r, limits) == ["x1: ks_pvalue 0.0003 < 0.05",
                                       "x1: wasserstein 0.1000004 > 0.1"]
    assert drift.applied("categorical", drift.DEFAULT_LIMITS) == {
        "psi": 0.2, "js": 0.1, "outside_range": 0.05, "missing": 0.1}


def test_default_distances_apply_to_training_data_over_a_thousand_rows() -> None:
    big = drift.limits_for(1001, {}, {})
    assert big["wasserstein"] == 0.1 and big["js"] == 0.1
    small = drift.limits_for(1000, {"psi": 0.3}, {})
    assert small["wasserstein"] is None and small["js"] is None and small["psi"] == 0.3
    named = drift.limits_for(50, {"wasserstein": 0.2}, {"js": 0.05})
    assert (named["wasserstein"], named["js"]) == (0.2, 0.05)
    off = drift.limits_for(5000, {"ks_pvalue": 0.05}, {"wasserstein": None, "ks_pvalue": None})
    assert off["wasserstein"] is None and off["ks_pvalue"] is None and off["js"] == 0.1


# -- through `branchml monitor check` on a real repository -----------------------------------
def _csv(head: str, columns: list[Any]) -> str:
    rows = zip(*columns, strict=True)
    return head + "\n" + "".join(",".join(f"{v:g}" if isinstance(v, float) else str(v)
                                          for v in r) + "\n" for r in rows)


def _train(n: int = 3000) -> tuple[str, Any]:
    rng = np.random.default_rng(20)
    x1 = np.round(rng.normal(0, 1, n), 4)
    counts = rng.poisson(2, n).astype(float)
    cat = rng.choice(["a", "b", "c"], n).tolist()
    label = rng.integers(0, 2, n).tolist()
    return _csv("x1,n,cat,label", [x1.tolist(), counts.tolist(), cat, label]), (x1, counts)


@pytest.fixture
def released(plain_project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    repo = release_for_monitoring(plain_project, bml, _train()[0])
    return repo


def _log(repo: Path, bml, path: Path) -> None:  # type: ignore[no-untyped-def]
    r = bml("monitor", "log", str(path), "--client", "acme", "--tag", "acme-v1", cwd=repo)
    assert r.code == 0, r.err


def test_the_training_rows_logged_as_production_data_raise_no_alert(
        released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The issue's case: KS counted on different sides raised a KS alert (exit 1) here."""
    _log(released, bml, write(tmp_path, "same.csv", _train()[0]))
    r = bml("monitor", "check", "--tag", "acme-v1", "--json", cwd=released)
    assert r.code == 0, r.out
    out = json.loads(r.out)
    assert out["verdict"] == "no drift" and out["alerts"] == []
    assert out["counters"] == {"features": 3, "drifted": 0, "left_out": 1, "alerts": 0}
    numeric = [f for f in out["features"] if f["kind"] == "numeric"]
    assert [(f["feature"], f["ks"], f["ks_pvalue"], f["psi"]) for f in numeric] == [
        ("x1", 0, 1, 0), ("n", 0, 1, 0)]
    assert all(f["wasserstein"] == pytest.approx(0, abs=1e-9) for f in numeric)
    x1 = numeric[0]
    assert x1["mean"] == pytest.approx(x1["train_mean"], abs=1e-15)
    assert x1["std"] == pytest.approx(x1["train_std"])
    assert len(x1["edges"]) == len(x1["hist"]) + 1 and x1["edges"][0] < x1["edges"][-1]
    assert x1["thresholds"] == {"psi": 0.2, "ks": 0.2, "wasserstein": 0.1,
                                "outside_range": 0.05, "missing": 0.1}
    cat = next(f for f in out["features"] if f["kind"] == "categorical")
    assert cat["categories"] == ["a", "b", "c", "(other)"]
    assert cat["chi2"] == pytest.approx(0, abs=1e-12) and cat["chi2_pvalue"] == 1
    assert cat["js"] == 0 and cat["ks"] is None and cat["wasserstein"] is None
    assert out["sampled"] == {"size": 3000, "cap": drift.SAMPLE, "seed": 19,
                              "figures": ["prediction.hist", "user checks"]}


def test_a_drifted_poisson_feature_scores_scipys_ks(released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(21)
    n = 4000
    counts = rng.poisson(2.4, n).astype(float)
    x1 = np.round(rng.normal(0, 1, n), 4)
    _log(released, bml, write(tmp_path, "p.csv", _csv("x1,n,cat,prediction", [
        x1.tolist(), counts.tolist(), ["a"] * n, [0.5] * n])))
    out = json.loads(bml("monitor", "check", "--tag", "acme-v1", "--json", cwd=released).out)
    train_x1, train_n = _train()[1]
    got = {f["feature"]: f for f in out["features"]}
    for name, train, seen in (("n", train_n, counts), ("x1", train_x1, x1)):
        exact = stats.ks_2samp(train, seen)
        assert got[name]["ks"] == pytest.approx(exact.statistic, abs=1e-3)
    assert "n: ks_pvalue" not in " ".join(out["alerts"])  # reported, not alerting by default
    assert out["prediction"]["mean"] == 0.5 and out["prediction"]["rows"] == n


def test_thresholds_from_the_config_apply_per_feature(released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = git("show", "main:branchml.yaml", cwd=released)
    cfg = cfg.replace("outside_range: 0.05, missing: 0.1}",
                      "outside_range: 0.05, missing: 0.1, ks_pvalue: 0.05, chi2_pvalue: 0.01}")
    cfg = cfg.replace("  features: {}", "  features: {x1: {wasserstein: null, ks_pvalue: null}}")
    commit(released, {"branchml.yaml": cfg + "\n"}, branch="main")
    rng = np.random.default_rng(22)
    n = 5000
    _log(released, bml, write(tmp_path, "p.csv", _csv("x1,n,cat,prediction", [
        np.round(rng.normal(0.15, 1, n), 4).tolist(), rng.poisson(2.3, n).astype(float).tolist(),
        rng.choice(["a", "b", "c"], n, p=[0.4, 0.3, 0.3]).tolist(), [1.0] * n])))
    r = bml("monitor", "check", "--tag", "acme-v1", "--json", cwd=released)
    out = json.loads(r.out)
    got = {f["feature"]: f for f in out["features"]}
    assert got["x1"]["thresholds"] == {"psi": 0.2, "ks": 0.2, "outside_range": 0.05,
                                       "missing": 0.1}
    assert got["n"]["thresholds"]["ks_pvalue"] == 0.05
    assert got["cat"]["thresholds"] == {"psi": 0.2, "chi2_pvalue": 0.01, "js": 0.1,
                                        "outside_range": 0.05, "missing": 0.1}
    n_p = got["n"]["ks_pvalue"]
    assert n_p < 0.05 and f"n: ks_pvalue {drift.shown(n_p, 0.05)} < 0.05" in out["alerts"]
    assert got["cat"]["chi2_pvalue"] < 0.01 and any(a.startswith("cat: chi2_pvalue ")
                                                    for a in out["alerts"])
    assert not any(a.startswith(("x1: wasserstein", "x1: ks_pvalue")) for a in out["alerts"])
    assert r.code == 1 and out["verdict"] == "drift"
    assert out["counters"]["alerts"] == len(out["alerts"])
    assert out["counters"]["drifted"] == sum(1 for f in out["features"] if f["alerts"])


def test_a_p_value_limit_above_one_is_refused(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    cfg = git("show", "main:branchml.yaml", cwd=released).replace(
        "missing: 0.1}", "missing: 0.1, ks_pvalue: 5}")
    commit(released, {"branchml.yaml": cfg + "\n"}, branch="main")
    r = bml("monitor", "check", "--tag", "acme-v1", cwd=released)
    assert r.code == 2 and (
        "monitor.thresholds.ks_pvalue: 5 is greater than the maximum of 1" in r.err)


@pytest.mark.slow
def test_old_rows_then_drifted_rows_every_row_counts(released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The issue's case: 200k undrifted rows then 100k drifted ones. The first 200k alone gave
    a prediction mean of 0.2 (true 0.4) and no KS alert."""
    commit(released, {"monitoring/checks/late.py":
                      "def check(train, monitored):\n"
                      "    m = monitored['x1']\n"
                      "    return [f'sample {len(m)} mean {m.mean():.1f}']\n"}, branch="main")
    rng = np.random.default_rng(23)
    parts = [(200_000, 0.0, 0.2), (100_000, 3.0, 0.8)]
    for i, (n, shift, pred) in enumerate(parts):
        x1 = np.round(rng.normal(shift, 1, n), 4)
        _log(released, bml, write(tmp_path, f"{i}.csv", _csv("x1,n,cat,prediction", [
            x1.tolist(), rng.poisson(2, n).astype(float).tolist(), ["a"] * n, [pred] * n])))
    r = bml("monitor", "check", "--tag", "acme-v1", "--json", cwd=released)
    out = json.loads(r.out)
    assert r.code == 1 and out["rows"] == 300_000
    assert out["prediction"]["mean"] == pytest.approx(0.4, abs=1e-12)
    assert out["prediction"]["std"] == pytest.approx(np.std([0.2] * 2 + [0.8]), abs=1e-9)
    assert (out["prediction"]["min"], out["prediction"]["max"]) == (0.2, 0.8)
    x1 = next(f for f in out["features"] if f["feature"] == "x1")
    assert x1["ks"] > 0.25 and any(a.startswith("x1: ks ") for a in out["alerts"])
    assert x1["mean"] == pytest.approx(1.0, abs=0.01)
    assert f"late.py: sample {drift.SAMPLE} mean 1.0" in out["alerts"]  # uniform over all rows
    again = json.loads(bml("monitor", "check", "--tag", "acme-v1", "--json", cwd=released).out)
    assert again == out  # the sample is seeded: reruns agree
