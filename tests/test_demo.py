"""`make demo` (docs/demo.sh) on the real dataset, run as the Makefile runs it, and the pieces
it is made of (the dataset, its batches, the two models the demo commits)."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BIN, git

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "docs" / "demo"


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_dataset_is_the_uci_table_with_named_columns() -> None:
    with open(DEMO / "breast_cancer_wisconsin.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 569
    assert list(rows[0])[:2] == ["id", "mean_radius"] and list(rows[0])[-1] == "diagnosis"
    assert len(rows[0]) == 32 and [r["id"] for r in rows] == [str(i) for i in range(1, 570)]
    assert sum(r["diagnosis"] == "M" for r in rows) == 212  # UCI: 212 malignant, 357 benign
    assert "CC BY 4.0" in (DEMO / "LICENSE.md").read_text()


def test_batches_hold_every_row_once_and_three_corrupt_ones(tmp_path: Path) -> None:
    for what in ("1", "2"):
        assert _run(sys.executable, str(DEMO / "batches.py"), what, str(tmp_path),
                    cwd=tmp_path).returncode == 0
    first = (tmp_path / "patients-2024-01.csv").read_text().splitlines()
    second = (tmp_path / "patients-2024-02.csv").read_text().splitlines()
    assert (tmp_path / "patients-2024-01-extra.csv").read_bytes() == b""
    assert len(first) == 1 + 400 + 3 and len(second) == 1 + 169
    assert [line.split(",", 1)[0] for line in first[-3:]] == ["9001", "9002", "9003"]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_demo_models_pass_their_own_tests(version: str) -> None:
    r = _run(sys.executable, "-m", "unittest", "discover", "-s", "tests",
             cwd=DEMO / "project" / version)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo run once, as `make demo` runs it: bash docs/demo.sh, the virtualenv first on
    PATH (the Makefile exports it); HOME is the demo's own."""
    work = tmp_path_factory.mktemp("demo") / "run"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    r = _run("bash", str(ROOT / "docs" / "demo.sh"), "--dir", str(work),
             "--graph", str(work.parent / "graph.svg"), cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return work, r.stdout


def _bml(repo: Path, *args: str) -> str:
    env = {**os.environ, "HOME": str(repo.parent / "home")}
    r = _run(f"{BIN}/branchml", *args, cwd=repo, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.slow
def test_demo_ends_with_a_summary_and_leaves_the_repository(demo: tuple[Path, str]) -> None:
    work, out = demo
    repo = work / "acme-ml"
    for step in range(1, 8):
        assert f"== {step}. " in out
    assert "releases:  acme-v1 acme-v2 acme-v3" in out
    assert f"repository: {repo}" in out
    assert "deployed:  acme runs acme-v2" in out
    assert "3 row(s) dropped" in out and "empty file" in out  # validation said why
    assert "monitor check on acme-v3 alerted" in out


@pytest.mark.slow
def test_demo_shows_every_command_even_when_its_output_is_discarded(
        demo: tuple[Path, str]) -> None:
    """`run CMD >/dev/null` once hid the `$ CMD` line too (issue 20): shown on fd 3 now."""
    work, out = demo
    for line in (f"$ branchml init {work}/acme-ml --model model",
                 f"$ branchml -C {work}/server.git install",
                 f"$ branchml clone {work}/server.git {work}/bob",
                 f"$ cd {work}/bob", f"$ cd {work}/acme-ml"):
        assert line in out, line
    step4 = out.split("== 4. ")[1].split("== 5. ")[0]
    assert step4.count("$ branchml push") == 1  # step 4's final push
    step5 = out.split("== 5. ")[1].split("== 6. ")[0]
    assert step5.index("(as Bob)") < step5.index("$ branchml sync") < step5.index("(as Alice)")
    assert out.split("== 1. ")[1].split("== 2. ")[0].count("$ branchml push") == 1


@pytest.mark.slow
def test_demo_canary_takes_a_key_and_the_hint_runs(demo: tuple[Path, str]) -> None:
    out = demo[1]
    assert "patient-3\tacme-v2" in out and "patient-1\tacme-v1" in out
    assert f"{BIN}/branchml status" in out and f". {BIN}/activate" in out


@pytest.mark.slow
def test_demo_repository_holds_the_releases_and_the_deploy_history(
        demo: tuple[Path, str]) -> None:
    repo = demo[0] / "acme-ml"
    assert git("tag", "--list", "acme-v*", cwd=repo).split() == ["acme-v1", "acme-v2", "acme-v3"]
    history = git("log", "--format=%s", "refs/deploy/acme", cwd=repo).splitlines()
    assert history[-1] == "deploy acme: acme-v1"
    assert "deploy acme: acme-v1 (candidate acme-v2 at 0.1)" in history
    assert "deploy acme: acme-v3" in history and history[0] == "rollback acme: acme-v2"
    assert json.loads(_bml(repo, "deployed", "--client", "acme", "--json"))["primary"] == "acme-v2"
    server = demo[0] / "server.git"  # Bob's batch went through the server
    assert git("tag", "--list", "acme-v*", cwd=server).split() == ["acme-v1", "acme-v2"]
    assert "patients-2024-02.csv" in git("ls-tree", "-r", "--name-only", "raw", cwd=server)


@pytest.mark.slow
def test_demo_lineage_goes_back_to_raw(demo: tuple[Path, str]) -> None:
    repo = demo[0] / "acme-ml"
    out = _bml(repo, "lineage", "models/model.pkl", "--rev", "acme-v3")
    assert "promoted from dev/model" in out
    assert "split    train for train: 443 rows" in out  # 318 + 125 train rows, none of test
    assert "from     raw " in out and "origin   raw" in out
    assert "releases: acme-v3" in out
    # both months behind the release, by file and by rows (issue 20)
    assert "data/patients-2024-01.csv, data/patients-2024-02.csv" in out
    rows = _bml(repo, "lineage", "models/model.pkl", "--rev", "acme-v3", "--rows")
    assert "318 of the 403 rows" in rows and "125 of the 169 rows" in rows
    assert "--rows" in demo[1]


@pytest.mark.slow
def test_demo_runs_and_graph(demo: tuple[Path, str]) -> None:
    work, out = demo
    runs = json.loads(_bml(work / "acme-ml", "runs", "--json"))
    assert [r["tag"] for r in runs] == ["acme-v3", "acme-v2", "acme-v1"]
    assert runs[0]["metrics"]["accuracy"] > runs[2]["metrics"]["accuracy"]
    svg = (work.parent / "graph.svg").read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "acme&#45;v3" in svg
    assert "promotion  dev/model -> stable/model  2x" in out
