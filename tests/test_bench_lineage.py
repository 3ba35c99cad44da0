"""bench/bench_lineage.py --quick runs end to end, so the row-lineage bench cannot rot: the
repository it builds holds what the bench claims (uploads on raw in git-lfs, grown files,
duplicates, rows cleaning rewrote, a release trained through `split rows`), its baseline
counts add up, a rerun reuses the built repository, and when `branchml impact` is in the
tree, branchml's answers equal the baseline's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench" / "bench_lineage.py"
BASELINE = ROOT / "bench" / "lineage_baseline.py"


def run_bench(work: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH), "--quick", "--work", str(work)],
                          capture_output=True, text=True, timeout=600)


def baseline(meta: dict[str, str], *args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, str(BASELINE), meta["repo"], meta["train"], *args],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.mark.slow
def test_quick_bench_builds_measures_reuses_and_holds_what_it_says(tmp_path: Path) -> None:
    """One quick build (~20 s) serves both checks: a module or session fixture shared by two
    tests is built twice when xdist sends them to two workers."""
    first = run_bench(tmp_path)
    builds_measures_and_reuses(first, tmp_path)
    repository_is_what_the_bench_says(tmp_path)


def builds_measures_and_reuses(first: subprocess.CompletedProcess[str], tmp_path: Path) -> None:
    assert first.returncode == 0, first.stdout + first.stderr
    assert "building 200,000 rows from 50 uploads" in first.stdout
    for label in ("lineage models/model.bin --rev acme-v1 --rows",
                  "impact --from <middle upload>", "impact --rows <withdraw.csv>"):
        assert f"| {label} |" in first.stdout
    impact = subprocess.run([str(Path(sys.executable).parent / "branchml"), "impact",
                             "--help"], capture_output=True).returncode == 0
    if impact:
        assert "same answers as the baseline" in first.stdout
        assert "x |" in first.stdout  # the ratios are printed
    else:
        assert "only the baseline is measured" in first.stdout
    again = run_bench(tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "reusing the repository built earlier" in again.stdout


def repository_is_what_the_bench_says(tmp_path: Path) -> None:
    (where,) = tmp_path.glob("lineage-r200000-u50-v*")
    meta = json.loads((where / "meta.json").read_text())
    repo = Path(meta["repo"])
    assert len(meta["uploads"]) == 50
    assert git("tag", "--list", "acme-v1", cwd=repo) == "acme-v1"
    # data in git-lfs: every data file on raw is a pointer to an object in the local store
    listing = git("ls-tree", "-r", "raw", "data/uploads/", cwd=repo).splitlines()
    assert 10 <= len(listing) < 50  # files created, then grown by later uploads
    text = git("cat-file", "-p", listing[0].split()[2], cwd=repo)
    oid = text.split("oid sha256:")[1].split()[0]
    assert (repo / ".git/lfs/objects" / oid[:2] / oid[2:4] / oid).is_file()
    lineage = baseline(meta, "lineage")["rows"]
    assert isinstance(lineage, dict)
    train_rows = len((Path(meta["train"])).read_bytes().splitlines()) - 1
    assert lineage["total"] == train_rows
    assert 0 < lineage["unmatched"] <= meta["rewritten"]  # rows cleaning rewrote
    assert sum(u["rows"] for u in lineage["uploads"]) == lineage["matched"]
    added = sum(u["upload_rows"] for u in lineage["uploads"])
    assert added <= 200_000
    # duplicates: the uploads added more rows than there are distinct rows on raw
    rows = set()
    for line in listing:
        ptr = git("cat-file", "-p", line.split()[2], cwd=repo)
        o = ptr.split("oid sha256:")[1].split()[0]
        rows.update((repo / ".git/lfs/objects" / o[:2] / o[2:4] / o).read_bytes()
                    .splitlines()[1:])
    assert len(rows) < 200_000
    held = baseline(meta, "impact", "--from", meta["middle"])
    assert held["held"] is True and held["rows"] > 0
    withdrawn = baseline(meta, "impact", "--rows", meta["withdraw"])
    assert withdrawn["rows"] == 1_000
