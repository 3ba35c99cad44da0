"""Issue 19, a newcomer's walk, part f1: windows decided per file, counters that agree with
the verdict, notes on limits that are off, Wasserstein against SciPy, limits printed as
configured, the sample's real size. Real repositories through the CLI, or pure core tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from branchml.core import drift, driftreport
from tests.conftest import commit, git, release_for_monitoring
from tests.test_monitor_windows_alerts import DAYS, TAG, day_rows, log_day, put_on_branch, table


@pytest.fixture
def released(plain_project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    return release_for_monitoring(plain_project, bml, table(3000))


def check_json(repo: Path, bml, *args: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    r = bml("monitor", "check", "--tag", TAG, "--json", "--no-notify", *args, cwd=repo)
    assert r.code in (0, 1), r.err
    return json.loads(r.out)  # type: ignore[no-any-return]


def set_monitor(repo: Path, old: str, new: str) -> None:
    cfg = git("show", "main:branchml.yaml", cwd=repo)
    assert old in cfg
    commit(repo, {"branchml.yaml": cfg.replace(old, new) + "\n"}, branch="main")


# -- 1. windows: each file decides between its timestamp column and its logged date ----------

def test_files_with_and_without_the_timestamp_column_are_all_windowed(
        released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    # logged date only (sorted first: it decided for every file before), then a file with the
    # column whose rows belong to days 2 and 4, then the logged date again
    log_day(released, DAYS[0], day_rows(DAYS[0], 600, seed=40))
    stamped = day_rows(DAYS[1], 500, seed=41, times=True) \
        + day_rows(DAYS[3], 500, seed=42, times=True).split("\n", 1)[1]
    log_day(released, DAYS[2], stamped, "stamped.csv")
    log_day(released, DAYS[2], day_rows(DAYS[2], 700, seed=43))
    bad = "\n".join(line.rsplit(",", 1)[0] + ",yesterday" if i else line for i, line in
                    enumerate(day_rows(DAYS[0], 30, seed=44, times=True).splitlines())) + "\n"
    log_day(released, DAYS[2], bad, "bad.csv")  # the column, but no time in it: in no window
    put_on_branch(released, "monitoring", {  # no DATE folder: not read at all (atk19-01)
        f"monitoring/acme/{TAG}/misc/x.csv": day_rows(DAYS[0], 30, seed=45)})
    out = check_json(released, bml, "--window", "1d")
    assert out["window"] == {"size": "1d", "by": "timestamp column timestamp (logged date for "
                             "files without it)", "unparsed": 30}
    assert [(w["start"], w["rows"]) for w in out["windows"]] == [
        (DAYS[0], 600), (DAYS[1], 500), (DAYS[2], 700), (DAYS[3], 500)]
    assert out["rows"] == 2330 and out["skipped"] == [f"monitoring/acme/{TAG}/misc/x.csv"]
    text = bml("monitor", "check", "--tag", TAG, "--window", "1d", "--no-notify", cwd=released)
    assert "30 row(s) fell in no window (a timestamp that does not parse, or a file without " \
           "the timestamp column outside a DATE folder): they count in the overall " \
           "figures." in text.out
    assert text.out.count("fell in no window") == 1
    report = released.parent / "w.md"
    bml("monitor", "check", "--tag", TAG, "--window", "1d", "--no-notify", "--report",
        str(report), cwd=released)
    assert "30 row(s) fell in no window" in report.read_text()


def test_every_row_windowed_says_nothing_about_rows_in_no_window(
        released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    log_day(released, DAYS[0], day_rows(DAYS[0], 600, seed=40))
    out = check_json(released, bml, "--window", "1d")
    assert out["window"] == {"size": "1d", "by": "logged date", "unparsed": 0}
    text = bml("monitor", "check", "--tag", TAG, "--window", "1d", "--no-notify", cwd=released)
    assert "no window" not in text.out


# -- 2. counters.drifted counts a feature that alerts in a window only -----------------------

def shifted_x2(rows: int, seed: int, shift: float) -> str:
    rnd = random.Random(seed)
    lines = ["x1,x2,cat,prediction"]
    for _ in range(rows):
        lines.append(f"{rnd.gauss(0, 1):.4f},{rnd.gauss(5 + shift, 2):.4f},"
                     f"{'b' if rnd.random() < 0.5 else 'a'},{rnd.randint(0, 1)}")
    return "\n".join(lines) + "\n"


def test_drifted_counts_features_that_alert_in_a_window(
        released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    for i, day in enumerate(DAYS):  # x2 moves by 0.8 std on the last day only: 1,000 rows
        drifted = day == DAYS[-1]  # of 13,000, too few to move the overall figures past a limit
        log_day(released, day, shifted_x2(1000 if drifted else 3000, 50 + i,
                                          1.6 if drifted else 0.0))
    plain = check_json(released, bml)
    assert plain["alerts"] == [] and plain["counters"]["drifted"] == 0
    out = check_json(released, bml, "--window", "1d")
    windowed = {f["feature"] for w in out["windows"] for f in w["features"] if f["alerts"]}
    assert "x2" in windowed and not any(f["alerts"] for f in out["features"])
    assert out["verdict"] == "drift"
    assert out["counters"]["drifted"] == len(windowed) >= 1
    text = bml("monitor", "check", "--tag", TAG, "--window", "1d", "--no-notify", cwd=released)
    assert f"{len(windowed)} drifted" in text.out and "0 drifted" not in text.out


# -- 3. notes: the default distances are off for a small training table ----------------------

def test_small_training_table_notes_the_limits_that_are_off(
        plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = release_for_monitoring(plain_project, bml, table(569))
    log_day(repo, DAYS[0], table(4200, shift=0.3, seed=9, last="prediction"))
    out = check_json(repo, bml)
    wasserstein = ("x1, x2 (2 features): no default Wasserstein threshold, because the "
                   "training data has 1,000 rows or fewer (569); set "
                   "monitor.thresholds.wasserstein to alert on it.")
    js = ("cat (1 feature): no default Jensen-Shannon threshold, because the training data "
          "has 1,000 rows or fewer (569); set monitor.thresholds.js to alert on it.")
    assert out["notes"] == [wasserstein, js]
    assert not any("wasserstein" in f["thresholds"] for f in out["features"])  # no new alert
    text = bml("monitor", "check", "--tag", TAG, "--no-notify", cwd=repo).out
    assert f"Notes:\n- {wasserstein}\n- {js}" in text
    for name in ("r.md", "r.html"):
        bml("monitor", "check", "--tag", TAG, "--no-notify", "--report",
            str(repo.parent / name), cwd=repo)
    assert f"## Notes\n\n- {wasserstein}" in (repo.parent / "r.md").read_text()
    assert f"<li>{js}</li>" in (repo.parent / "r.html").read_text()


def test_a_configured_distance_or_a_large_table_has_no_note(
        plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = release_for_monitoring(plain_project, bml, table(569))
    set_monitor(repo, "thresholds: {psi: 0.2,", "thresholds: {wasserstein: 0.1, psi: 0.2,")
    log_day(repo, DAYS[0], table(600, seed=9, last="prediction"))
    assert [n.split(" (")[0] for n in check_json(repo, bml)["notes"]] == ["cat"]


def test_no_note_for_a_large_training_table(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    log_day(released, DAYS[0], table(600, seed=9, last="prediction"))
    out = check_json(released, bml)
    assert out["notes"] == []
    assert "Notes:" not in bml("monitor", "check", "--tag", TAG, "--no-notify",
                               cwd=released).out


def test_notes_absent_from_an_older_result_are_left_out() -> None:
    r = {"tag": "t", "features": [], "alerts": []}
    assert "Notes" not in driftreport.drift_text(r) + driftreport.drift_markdown(r)
    assert 'id="notes"' not in driftreport.drift_html(r)


# -- 4. Wasserstein within 0.5% of SciPy, KS exact, on few distinct training values ---------

def breast_cancer_like(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """569 training rows, 4,200 monitored, from the shapes of the breast-cancer features:
    values with 2 to 4 decimals (few distinct), skewed, integer-like, and continuous."""
    draws = [lambda n: np.round(rng.lognormal(2.6, 0.3, n), 2),
             lambda n: np.round(rng.gamma(2.0, 0.05, n), 4),
             lambda n: rng.integers(0, 30, n).astype(float),
             lambda n: np.round(rng.normal(0.1, 0.03, n), 3),
             lambda n: rng.normal(size=n)]
    return [(d(569), d(4200) * 1.1 + 0.05) for d in draws]


def scored(train: np.ndarray, monitored: np.ndarray, coarse: bool = False) -> dict:  # type: ignore[type-arg]
    f = drift.NumericFeature("x", train)
    f = f.fresh(coarse=True) if coarse else f
    for chunk in np.array_split(monitored, 3):
        f.add(chunk)
    return f.result()


@pytest.mark.parametrize("coarse", [False, True])
def test_wasserstein_within_half_a_percent_of_scipy(coarse: bool) -> None:
    rng = np.random.default_rng(569)
    cases = breast_cancer_like(rng)
    if not coarse:  # a window's coarse grid cuts more distinct values than COARSE at quantiles
        cases += [(rng.normal(size=20_000), rng.normal(0.3, 1.2, 50_000)),  # continuous
                  (rng.exponential(size=5_000), rng.exponential(1.3, 30_000))]
    for train, monitored in cases:
        r = scored(train, monitored, coarse)
        exact = stats.wasserstein_distance(train, monitored) / np.std(train)
        assert r["wasserstein"] == pytest.approx(exact, rel=5e-3)
        assert abs(r["ks"] - stats.ks_2samp(train, monitored).statistic) < 1e-9


def test_the_old_grid_was_low_where_the_cdfs_cross() -> None:
    """The case the subdivision fixes: integer training values, a monitored side between."""
    rng = np.random.default_rng(3)
    train = np.sort(rng.integers(0, 30, 569).astype(float))
    monitored = train.mean() + rng.normal(0, 9, 4200)
    old = drift.NumericSummary("x", train, drift.SEED)
    old.grids[False] = drift.Grid(np.unique(train), train)  # the grid before the fix
    before = drift.NumericFeature("x", None, summary=old)
    before.add(monitored)
    exact = stats.wasserstein_distance(train, monitored) / np.std(train)
    assert before.result()["wasserstein"] < exact * 0.995
    assert scored(train, monitored)["wasserstein"] == pytest.approx(exact, rel=5e-3)


def test_subdivided_grid_keeps_every_training_value() -> None:
    points = np.array([0.0, 1.0, 1.5, 10.0])
    grid = drift.subdivided(points, 1_000)
    assert set(points) <= set(grid.tolist()) and 1_000 <= len(grid) <= 2_000
    assert np.all(np.diff(grid) > 0)
    assert len(drift.Grid.of(np.array([2.0, 2.0]), 1_000).points) == 1


# -- 5. limits printed exactly as configured -------------------------------------------------

def test_alert_strings_carry_the_limit_as_configured() -> None:
    r = {"feature": "x", "psi": 1.02, "ks_pvalue": 1e-7}
    assert drift.alerts(r, {"psi": 0.01122177, "ks_pvalue": 0.001}) == [
        "x: psi 1.02 > 0.01122177", "x: ks_pvalue 1e-07 < 0.001"]
    assert drift.alerts({"feature": "x", "psi": 3.0}, {"psi": 2.0}) == ["x: psi 3 > 2"]


def test_report_prints_the_configured_limit(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    set_monitor(released, "thresholds: {psi: 0.2,", "thresholds: {psi: 0.01122177,")
    log_day(released, DAYS[0], table(1500, shift=1.5, seed=9, last="prediction"))
    r = bml("monitor", "check", "--tag", TAG, "--no-notify", cwd=released)
    assert r.code == 1
    assert "> 0.01122177" in r.out and "0.0112218" not in r.out.replace("0.01122177", "")
    assert any(a.startswith("x1: psi ") and a.endswith(" > 0.01122177")
               for a in check_json(released, bml)["alerts"])
    for name in ("r.md", "r.html"):
        bml("monitor", "check", "--tag", TAG, "--no-notify", "--report",
            str(released.parent / name), cwd=released)
        page = (released.parent / name).read_text()
        assert "0.01122177" in page and "0.0112218" not in page.replace("0.01122177", "")


# -- 6. sampled.size: the values actually kept -----------------------------------------------

def test_sampled_size_is_what_was_kept(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    log_day(released, DAYS[0], table(569, seed=9, last="prediction"))
    out = check_json(released, bml)
    assert out["sampled"]["size"] == 569 and out["sampled"]["cap"] == drift.SAMPLE
    text = bml("monitor", "check", "--tag", TAG, "--no-notify", cwd=released).out
    assert f"a uniform sample of 569 values (at most {drift.SAMPLE})" in text


def test_an_older_result_without_cap_reads_up_to() -> None:
    r = {"tag": "t", "features": [], "alerts": [],
         "sampled": {"size": 100000, "seed": 19, "figures": ["user checks"]}}
    assert "sample of up to 100000 values" in driftreport.drift_text(r)
    assert "sample of up to 100000 values" in driftreport.drift_html(r)


# -- atk19 findings fixed by the lead: absurd timestamps, too many windows --------------------

def test_absurd_timestamps_are_in_no_window() -> None:
    import numpy as np

    from branchml.ops.monitorwindows import seconds

    got = seconds(np.asarray(["1e18", "inf", "-1e15", "9999-12-31T23:00:00", "0001-01-01",
                              "2026-11-30T10:00:00Z"], dtype=object), 6)
    assert np.isnan(got[:5]).all() and got[5] == 1_796_032_800.0
    assert np.isnan(seconds(np.asarray([1e18, float("inf"), -5.0]), 3)).all()
