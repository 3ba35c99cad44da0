"""The drift report (issue 19, "A report people read"): one self-contained HTML page (verdict
and counters, a sortable table of every statistic with its threshold, overlaid histograms with
labelled axes and bin edges, the prediction's distribution, statistics over time windows), a
Markdown form for pull requests and the terminal text; first on hand-made results that follow
the contract of `monitor check` (docs/tracking-monitoring.md), then through a real
`branchml monitor check --report`, then in a real headless Chromium (slow)."""

from __future__ import annotations

import copy
import random
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from branchml.core.driftreport import drift_html, drift_markdown, drift_text, shown
from branchml.ops.driftreport import write_report
from tests.conftest import release_for_monitoring, write

EDGES = [-3.1, -1.28, -0.84, -0.52, -0.25, 0.0, 0.25, 0.52, 0.84, 1.28, 3.2]
NUM_LIMITS = {"psi": 0.2, "ks": 0.2, "ks_pvalue": 0.05, "wasserstein": 0.1,
              "outside_range": 0.05, "missing": 0.1}
CAT_LIMITS = {"psi": 0.2, "chi2_pvalue": 0.05, "js": 0.1, "outside_range": 0.05,
              "missing": 0.1}
EVIL = "<script>alert(1)</script>"


def numeric(name: str, psi: float, pvalue: float, hist: list[int], alerts: list[str],
            mean: float = 0.0) -> dict[str, Any]:
    return {"feature": name, "kind": "numeric", "rows": 4000, "missing": 0.0,
            "outside_range": 0.01, "psi": psi, "ks": 0.05, "ks_pvalue": pvalue,
            "wasserstein": 0.02, "chi2": None, "chi2_pvalue": None, "js": None,
            "mean": mean, "std": 1.0, "train_mean": 0.0, "train_std": 1.0,
            "train_hist": [400] * 10, "hist": hist, "edges": EDGES,
            "thresholds": dict(NUM_LIMITS), "alerts": alerts}


@pytest.fixture
def result() -> dict[str, Any]:
    """Every key of the contract: 4 features (one named like an attack), left-out columns,
    the prediction with its histogram, a sampled figure, and 4 daily windows."""
    x2_alerts = ["x2: psi 9.5 > 0.2", "x2: ks_pvalue 1e-12 < 0.05"]
    cat = {"feature": "cat", "kind": "categorical", "rows": 4000, "missing": 0.0,
           "outside_range": 0.025, "psi": 12.5, "ks": None, "ks_pvalue": None,
           "wasserstein": None, "chi2": 812.5, "chi2_pvalue": 1e-30, "js": 0.21, "mean": None,
           "std": None, "train_mean": None, "train_std": None, "train_hist": [1500, 1500, 0],
           "hist": [3000, 900, 100], "categories": ["a", "b", "(other)"],
           "thresholds": dict(CAT_LIMITS), "alerts": ["cat: js 0.21 > 0.1"]}
    windows = [{"start": f"2026-11-0{d}", "end": f"2026-11-0{d + 1}", "rows": 1000,
                "features": [{"feature": "x1", "psi": 0.01 * d, "ks": 0.02, "ks_pvalue": 0.5},
                             {"feature": "x2", "psi": 0.1 * d, "ks": 0.1 * d,
                              "ks_pvalue": 0.1 / d}],
                "prediction": {"mean": 0.3 + 0.05 * d, "std": 0.2, "rows": 1000},
                "alerts": [f"x2: psi {0.1 * d:g} > 0.2"] if d >= 3 else []}
               for d in range(1, 5)]
    return {
        "tag": "acme-v1", "rows": 4000, "verdict": "drift",
        "files": ["monitoring/acme/acme-v1/2026-11-01/a.csv",
                  "monitoring/acme/acme-v1/2026-11-03/b.csv"],
        "counters": {"features": 4, "drifted": 2, "left_out": 2, "alerts": 3},
        "features": [
            numeric("x1", 0.199969, 0.3, [380, 410, 400, 420, 390, 400, 400, 410, 390, 400], []),
            numeric("x2", 9.5, 1e-12, [50, 50, 100, 100, 200, 300, 500, 800, 900, 1000],
                    x2_alerts, mean=1.5),
            numeric(EVIL, 0.01, 0.9, [400] * 10, []),
            cat],
        "alerts": [*x2_alerts, "cat: js 0.21 > 0.1"],
        "left_out": [{"column": "id", "role": "id", "declared": False,
                      "reason": "unique per row"},
                     {"column": "<img src=x onerror=alert(2)>", "role": "timestamp",
                      "declared": True, "reason": "monitor.columns names it"}],
        "prediction": {"column": "prediction", "rows": 4000, "mean": 0.41, "std": 0.2,
                       "min": 0.0, "max": 1.0, "hist": [100, 300, 800, 1200, 900, 400, 200, 100],
                       "edges": [0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1]},
        "sampled": {"size": 200000, "seed": 19, "figures": ["ks_pvalue"]},
        "windows": windows, "window": {"size": "1d", "by": "timestamp column ts"},
    }


@pytest.fixture
def older() -> dict[str, Any]:
    """A result of the check before issue 19: no verdict, counters, thresholds, newer
    statistics, edges, left_out, sampled, windows, nor prediction histogram."""
    def f(name: str, psi: float, ks: float | None, alerts: list[str]) -> dict[str, Any]:
        return {"feature": name, "kind": "numeric" if ks is not None else "categorical",
                "rows": 100, "psi": psi, "ks": ks, "outside_range": 0.0, "missing": 0.0,
                "train_hist": [5, 5, 5], "hist": [2, 8, 5], "alerts": alerts}
    return {"tag": "acme-v1", "files": ["a.csv"], "rows": 100,
            "features": [f("x1", 0.5, 0.3, ["x1: psi 0.5 > 0.2"]), f("cat", 0.01, None, [])],
            "prediction": {"column": "prediction", "mean": 0.5, "std": 0.1},
            "alerts": ["x1: psi 0.5 > 0.2"]}


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of the page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def cells(page: str, table: str) -> list[list[str]]:
    """The rows of table `id` as the text of their cells (the header first)."""
    body = re.search(rf'<table id="{table}".*?</table>', page, re.S)
    assert body, table

    def text(cell: str) -> str:
        return unescape(" ".join(re.sub(r"<[^>]+>", " ", cell).split()))

    return [[text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(0), re.S)]


# -- 1. HTML --------------------------------------------------------------------------------

def test_html_is_one_self_contained_file(result: dict[str, Any]) -> None:
    page = drift_html(result)
    assert "http://" not in page and "https://" not in page and "//" not in re.sub(
        r"<script>.*?</script>", "", page, flags=re.S)
    assert "<script src" not in page and "<link" not in page
    assert "@import" not in page and "url(" not in page and "<img" not in page
    tags = Elements(page).tags
    assert [t for t, _ in tags].count("script") == 1 and [t for t, _ in tags].count("style") == 1
    assert not [a for _, attrs in tags for a in attrs if a in ("src", "href")]


def test_html_verdict_and_counters_at_the_top(result: dict[str, Any]) -> None:
    page = drift_html(result)
    assert page.index('id="verdict"') < page.index('id="features"')
    assert '<section id="verdict" class="verdict drift"><b>Drift</b>' in page
    for key, value in (("features", 4), ("drifted", 2), ("left_out", 2), ("alerts", 3),
                       ("rows", 4000), ("files", 2)):
        assert f'id="count-{key}"><span>{value}</span>' in page
    calm = copy.deepcopy(result) | {"verdict": "no drift", "alerts": []}
    assert 'class="verdict nodrift"><b>No drift</b>' in drift_html(calm)


def test_html_table_has_every_statistic_with_its_threshold(result: dict[str, Any]) -> None:
    page = drift_html(result)
    head, *rows = cells(page, "features")
    assert head == ["feature", "kind", "rows", "PSI > 0.2", "KS > 0.2",
                    "KS p-value < 0.05 sampled",
                    "Wasserstein (normed) > 0.1", "chi-squared", "chi-squared p-value < 0.05",
                    "Jensen-Shannon > 0.1", "outside range > 0.05", "missing > 0.1", "alerts"]
    by_name = {r[0]: r for r in rows}
    # 0.199969 under 0.2 reads under it (never "0.200")
    assert by_name["x1"][3] == "0.19997" and by_name["x2"][5] == "1e-12"
    assert by_name["cat"][7:10] == ["812.5", "1e-30", "0.21"]
    alerting = re.findall(r'<td class=alert data-v="([^"]*)"', page)
    assert alerting == ["9.5", "1e-12", "0.21"]  # x2 PSI, x2 KS p-value, cat JS
    features = re.search(r'<table id="features".*?</table>', page, re.S)
    assert features and features.group(0).count("<tr class=alert>") == 2
    assert '<th data-type=num>PSI<br><small>&gt; 0.2</small></th>' in page
    assert "<th class=text data-type=text>feature</th>" in page  # text sort for names


def test_html_threshold_of_one_feature_shown_beside_its_value(result: dict[str, Any]) -> None:
    result["features"][0]["thresholds"]["psi"] = 0.1
    result["features"][0]["alerts"] = ["x1: psi 0.199969 > 0.1"]
    page = drift_html(result)
    head, *rows = cells(page, "features")
    assert head[3] == "PSI" and rows[0][3] == "0.2 (> 0.1)"
    assert rows[1][3] == "9.5 (> 0.2)"


def test_html_histograms_overlaid_with_axes_edges_and_legend(result: dict[str, Any]) -> None:
    page = drift_html(result)
    charts = re.findall(r'<figure id="chart-\d+" class=feature-chart>(.*?)</figure>', page, re.S)
    assert len(charts) == 4
    x1 = charts[0]
    assert x1.count('class="bar train"') == 10 and x1.count('class="bar seen"') == 10
    ticks = re.findall(r'class="tick x"[^>]*>([^<]*)<title>', x1)
    assert ticks == ["-3.1", "-1.28", "-0.84", "-0.52", "-0.25", "0", "0.25", "0.52", "0.84",
                     "1.28", "3.2"]  # the bin edges, training min to max
    assert '<text class="axis-label x"' in x1 and ">x1 (value, bin edges)</text>" in x1
    assert '<text class="axis-label y"' in x1 and ">share of rows</text>" in x1
    assert ">training</text>" in x1 and ">monitored</text>" in x1
    heights = [float(h) for h in re.findall(r'class="bar seen"[^>]*height="([\d.]+)"', charts[1])]
    assert heights == sorted(heights) and heights[0] > 0  # x2 drifted upwards
    cat = charts[3]
    assert re.findall(r'class="tick x"[^>]*>([^<]*)<title>', cat) == ["a", "b", "(other)"]
    assert ">cat (category)</text>" in cat


def test_html_prediction_distribution(result: dict[str, Any]) -> None:
    page = drift_html(result)
    pred = re.search(r'<figure id="chart-prediction".*?</figure>', page, re.S)
    assert pred and pred.group(0).count('class="bar pred"') == 8
    assert ">mean 0.41</text>" in pred.group(0) and ">share of rows</text>" in pred.group(0)
    assert '<rect class="band"' in pred.group(0) and "mean +- one std: 0.21 to 0.61" in page
    assert "rows 4000, mean 0.41, std 0.2, min 0, max 1." in page
    del result["prediction"]["hist"]
    page = drift_html(result)
    assert 'id="chart-prediction"' not in page and "mean 0.41, std 0.2" in page


def test_html_statistics_over_time_and_table_of_windows(result: dict[str, Any]) -> None:
    page = drift_html(result)
    assert "Windows of 1d by timestamp column ts: 4 window(s)." in page
    for key in ("psi", "ks", "ks_pvalue", "prediction"):
        fig = re.search(rf'<figure id="over-time-{key}".*?</figure>', page, re.S)
        assert fig, key
        lines = fig.group(0).count('class="line"')
        assert lines == (1 if key == "prediction" else 2)
    psi = re.search(r'<figure id="over-time-psi".*?</figure>', page, re.S)
    assert psi and 'class="limit"' in psi.group(0) and "threshold 0.2" in psi.group(0)
    assert re.findall(r'class="tick x"[^>]*>([^<]*)<title>', psi.group(0)) == [
        "2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
    head, *rows = cells(page, "windows")
    assert head == ["start", "end", "rows", "prediction mean", "alerts", "which"]
    assert rows[2] == ["2026-11-03", "2026-11-04", "1000", "0.45", "1", "x2: psi 0.3 > 0.2"]


def test_html_left_out_columns_and_sampled_figures(result: dict[str, Any]) -> None:
    page = drift_html(result)
    _, *rows = cells(page, "left-out")
    assert rows[0] == ["id", "id", "detected", "unique per row"]
    assert rows[1][1:3] == ["timestamp", "declared"]
    assert ("Computed on a uniform sample of up to 200000 values per feature (seed 19): ks_pvalue."
            in page)


def test_html_names_are_escaped_never_markup(result: dict[str, Any]) -> None:
    """A column named `<script>alert(1)</script>` (or an image with an onerror) must stay
    text: one script element on the page (the sort), no event attribute anywhere."""
    result["features"][3]["categories"] = ['"><svg onload=alert(3)>', "b", "(other)"]
    result["alerts"].append(f"{EVIL}: psi 1 > 0.2")
    result["verdict"] = 'drift" onmouseover="alert(4)'
    result["window"]["by"] = "timestamp column <b onclick=alert(5)>"
    page = drift_html(result)
    parsed = Elements(page)
    assert [t for t, _ in parsed.tags].count("script") == 1
    assert not [a for _, attrs in parsed.tags for a in attrs if a.startswith("on")]
    assert "img" not in [t for t, _ in parsed.tags]
    text = "".join(parsed.text)
    assert EVIL in text and "<img src=x onerror=alert(2)>" in text


def test_html_of_an_older_result_leaves_out_what_it_lacks(older: dict[str, Any]) -> None:
    page = drift_html(older)
    assert '<section id="verdict" class="verdict drift">' in page
    assert 'id="count-left_out"><span>0</span>' in page
    assert 'id="count-drifted"><span>1</span>' in page
    head, *_ = cells(page, "features")
    assert head == ["feature", "kind", "rows", "PSI", "KS", "outside range", "missing", "alerts"]
    for absent in ("Over time", 'id="left-out"', 'id="sampled"', 'id="chart-prediction"'):
        assert absent not in page
    assert re.findall(r'class="tick x"[^>]*>([^<]*)<title>', page) == [
        "bin 1", "bin 2", "bin 3", "category 1", "category 2", "(other)"]
    assert ">x1 (bin)</text>" in page and ">cat (category)</text>" in page


# -- 2. Markdown and terminal text ----------------------------------------------------------

@pytest.mark.parametrize(("value", "limit", "text"), [
    (0.199969, 0.2, "0.19997"), (0.2000001, 0.2, "0.2000001"), (0.2, 0.2, "0.2"),
    (0.31234, 0.2, "0.3123"), (1e-12, 0.05, "1e-12"), (812.5, None, "812.5"), (None, 0.2, "")])
def test_shown_reads_on_the_right_side_of_the_limit(value: float | None, limit: float | None,
                                                    text: str) -> None:
    assert shown(value, limit) == text


def test_markdown_for_a_pull_request(result: dict[str, Any]) -> None:
    md = drift_markdown(result)
    assert md.startswith("# Drift of acme-v1\n\n**Drift**: 3 alert(s).\n")
    assert "| 4 | 2 | 2 | 3 | 4000 | 2 |" in md
    assert ("| feature | kind | rows | PSI | KS | KS p | W | chi2 | chi2 p | JS | outside | "
            "missing |") in md
    assert "| threshold |  |  | > 0.2 | > 0.2 | < 0.05 | > 0.1 |  | < 0.05 | > 0.1 | > 0.05 | > 0.1 |" in md
    assert "| `x1` | numeric | 4000 | 0.19997 | 0.05 | 0.3 | 0.02 |  |  |  | 0.01 | 0 |" in md
    assert "| `x2` | numeric | 4000 | **9.5** | 0.05 | **1e-12** |" in md
    assert f"| `{EVIL}` |" in md  # a code span: GitHub shows it, never runs it
    assert "| `<img src=x onerror=alert(2)>` | timestamp | declared | monitor.columns names it |" in md
    assert "- `cat: js 0.21 > 0.1`" in md
    assert "## Windows of 1d by timestamp column ts" in md
    assert "| 2026-11-03 | 2026-11-04 | 1000 | 0.45 | x2: psi 0.3 > 0.2 |" in md
    assert "Sampled: ks_pvalue computed on a uniform sample of up to 200000 values" in md


def test_a_million_rows_print_as_a_whole_number(result: dict[str, Any]) -> None:
    result["features"][0]["rows"] = result["prediction"]["rows"] = 1_000_000
    result["rows"] = 1_000_000
    for report in (drift_html(result), drift_markdown(result), drift_text(result)):
        assert "1e+06" not in report and "rows 1000000, mean 0.41" in report
    assert '<td data-v="1000000">1000000</td>' in drift_html(result)


def test_markdown_escapes_a_pipe_in_a_name(result: dict[str, Any]) -> None:
    result["features"][0]["feature"] = "a|b"
    assert "| `a\\|b` | numeric |" in drift_markdown(result)


def test_terminal_text_is_plain_and_aligned(result: dict[str, Any]) -> None:
    result["features"][2]["feature"] = "x\x1b[2Jy"  # an escape sequence must not clear a screen
    text = drift_text(result)
    assert "**" not in text and "| " not in text and "`" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0] == "Drift of acme-v1: drift, 3 alert(s)."
    assert lines[1] == "4 features scored, 2 drifted, 2 left out, 3 alerts; 4000 rows in 2 file(s)."
    head = next(i for i, line in enumerate(lines) if line.startswith("feature"))
    table = lines[head:head + 6]
    assert table[1].split() == ["threshold", ">", "0.2", ">", "0.2", "<", "0.05", ">", "0.1",
                                "<", "0.05", ">", "0.1", ">", "0.05", ">", "0.1"]
    assert table[3].split()[:5] == ["x2", "numeric", "4000", "9.5!", "0.05"]
    assert table[4].startswith("x?[2Jy ")
    assert len({len(row) for row in table[:2]}) == 1  # columns line up
    assert "- <img src=x onerror=alert(2)> (timestamp, declared): monitor.columns names it" in text
    assert "2026-11-03  2026-11-04  1000             0.45       1" in text
    assert text.rstrip().endswith("- cat: js 0.21 > 0.1")


def test_markdown_and_text_of_an_older_result(older: dict[str, Any]) -> None:
    md, text = drift_markdown(older), drift_text(older)
    assert "**Drift**: 1 alert(s)." in md and "| `x1` | numeric | 100 | **0.5** | 0.3 | 0 | 0 |" in md
    assert "Column `prediction`: mean 0.5, std 0.1." in md
    for absent in ("Left out", "Windows", "Sampled"):
        assert absent not in md and absent not in text
    assert "2 features scored, 1 drifted, 0 left out, 1 alerts; 100 rows in 1 file(s)." in text


def test_report_written_whole_in_the_form_its_name_says(result: dict[str, Any],
                                                       tmp_path: Path) -> None:
    write_report(tmp_path / "r.html", result)
    write_report(tmp_path / "r.md", result)
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    assert (tmp_path / "r.md").read_text().startswith("# Drift of acme-v1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.md"]  # no temp left
    assert (tmp_path / "r.html").stat().st_mode & 0o044 == 0o044  # readable by others


# -- the report of a real `branchml monitor check --report` ---------------------------------

def table(rows: int, shift: float = 0.0, seed: int = 1, label: bool = True,
          cat_b: float = 0.5) -> str:
    rnd = random.Random(seed)
    lines = ["x1,x2,cat," + ("label" if label else "prediction")]
    for _ in range(rows):
        x1, x2 = rnd.gauss(shift, 1), rnd.gauss(5, 2)
        cat = "b" if rnd.random() < cat_b else "a"
        lines.append(f"{x1:.4f},{x2:.4f},{cat},{rnd.random():.3f}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def monitored(plain_project: Path, bml, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """acme-v1 released on 3,000 rows; 2,000 undrifted and 2,000 drifted rows logged."""
    repo = release_for_monitoring(plain_project, bml, table(3000))
    for name, rows in (("ok.csv", table(2000, seed=2, label=False)),
                       ("drifted.csv", table(2000, shift=1.5, seed=3, label=False, cat_b=1.0))):
        f = write(tmp_path / "in", name, rows)
        assert bml("monitor", "log", str(f), "--client", "acme", "--tag", "acme-v1",
                   cwd=repo).code == 0
    return repo


def test_monitor_check_report_on_a_real_repository(monitored: Path, bml,  # type: ignore[no-untyped-def]
                                                   tmp_path: Path) -> None:
    page_file = tmp_path / "drift.html"
    r = bml("monitor", "check", "--tag", "acme-v1", "--report", str(page_file), cwd=monitored)
    assert r.code == 1, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("Drift of acme-v1: drift, ") and "**" not in r.out
    assert "x1: psi" in r.out and "cat: psi" in r.out and "4000 rows in 2 file(s)" in r.out
    page = page_file.read_text()
    assert "http://" not in page and "https://" not in page and "<script src" not in page
    assert '<section id="verdict" class="verdict drift">' in page
    assert 'id="count-rows"><span>4000</span>' in page
    head, *rows = cells(page, "features")
    assert head[:4] == ["feature", "kind", "rows", "PSI" + head[3][3:]]
    assert {row[0] for row in rows} == {"x1", "x2", "cat"}
    assert page.count("class=feature-chart") == 3 and "<td class=alert" in page
    assert 'id="prediction"' in page
    md_file = tmp_path / "drift.md"
    assert bml("monitor", "check", "--tag", "acme-v1", "--report", str(md_file),
               cwd=monitored).code == 1
    md = md_file.read_text()
    assert md.startswith("# Drift of acme-v1\n\n**Drift**: ")
    assert "| `x1` | numeric | 4000 |" in md and "## Alerts" in md


# -- 3. a real browser: headless Chromium from Debian, driven by Selenium -------------------

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    """Debian's chromium through its chromedriver (`make deps` installs both); never a
    browser downloaded at test time. Skipped, naming what is missing, when they are not."""
    for binary, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not binary.exists():
            pytest.skip(f"{binary} is missing: install the Debian package {package} "
                        "(make deps) to run the browser test")
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is missing: pip install -e '.[dev]'")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def column(driver, table: str, index: int) -> list[str]:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return [row.find_elements(By.TAG_NAME, "td")[index].text
            for row in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")]


@pytest.mark.slow
def test_report_in_a_real_browser(browser, result: dict[str, Any], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    page = tmp_path / "drift.html"
    write_report(page, result)
    browser.get(page.as_uri())
    assert column(browser, "features", 0) == ["x1", "x2", EVIL, "cat"]
    headers = browser.find_elements(By.CSS_SELECTOR, "#features thead th")
    headers[3].click()  # PSI: 0.199969, 9.5, 0.01, 12.5 -> numerically, not as text
    assert column(browser, "features", 0) == [EVIL, "x1", "x2", "cat"]
    assert headers[3].get_attribute("aria-sort") == "ascending"
    headers[3].click()
    assert column(browser, "features", 0) == ["cat", "x2", "x1", EVIL]
    headers[0].click()  # names: as text
    assert column(browser, "features", 0) == sorted(["x1", "x2", EVIL, "cat"])
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.histogram")
    assert len(charts) == 5  # 4 features and the prediction
    for chart in charts:
        heights = [float(b.get_attribute("height")) for b in
                   chart.find_elements(By.CSS_SELECTOR, "rect.bar")]
        drawn = browser.execute_script(
            "return Array.from(arguments[0].querySelectorAll('rect.bar'))"
            ".map(function (b) { return b.getBBox().height; });", chart)
        assert max(heights) > 0 and max(drawn) > 0
        labels = [t.text for t in chart.find_elements(By.CSS_SELECTOR, "text.axis-label")]
        assert len(labels) == 2 and all(labels)
        assert "share of rows" in labels
    for chart in browser.find_elements(By.CSS_SELECTOR, "svg.line-chart"):
        labels = [t.text for t in chart.find_elements(By.CSS_SELECTOR, "text.axis-label")]
        assert len(labels) == 2 and "window start" in labels
    lines = browser.find_elements(By.CSS_SELECTOR, "svg.line-chart polyline.line")
    assert lines and all(line.get_attribute("points") for line in lines)
    with pytest.raises(NoAlertPresentException):  # the column named <script> did not run
        _ = browser.switch_to.alert.text
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_api_renders_a_result_in_each_form(result: dict[str, Any]) -> None:
    from branchml import api
    from branchml.errors import UsageError

    assert api.drift_report(result) == drift_html(result)  # type: ignore[arg-type]
    assert api.drift_report(result, "md") == drift_markdown(result)  # type: ignore[arg-type]
    assert api.drift_report(result, "text") == drift_text(result)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"written as html, md, text, not 'pdf'; pick one"):
        api.drift_report(result, "pdf")  # type: ignore[arg-type]
