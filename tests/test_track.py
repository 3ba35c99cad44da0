"""`branchml track` and `runs`, checked with the real MLflow client on main's checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import commit, git, snapshot

LOG_RUN = """
import os, sys, mlflow
mlflow.set_tracking_uri("file:" + os.path.abspath("mlruns"))
mlflow.set_experiment(sys.argv[1])
with mlflow.start_run(run_name=sys.argv[2]):
    mlflow.log_param("lr", float(sys.argv[3]))
    mlflow.log_metric("accuracy", float(sys.argv[4]))
"""


def log_run(repo: Path, experiment: str, name: str, lr: float, acc: float) -> None:
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"}
    subprocess.run([sys.executable, "-c", LOG_RUN, experiment, name, str(lr), str(acc)],
                   cwd=repo, env=env, check=True, capture_output=True)


def train(repo: Path, branch: str, experiment: str, name: str, lr: float, acc: float) -> str:
    git("checkout", "-q", branch, cwd=repo)
    log_run(repo, experiment, name, lr, acc)
    (repo / "tracking").mkdir(exist_ok=True)
    (repo / "tracking" / "metrics.json").write_text(json.dumps({"accuracy": acc}))
    (repo / "tracking" / "params.json").write_text(json.dumps({"lr": lr}))
    git("add", "mlruns", "tracking", cwd=repo)
    git("commit", "-q", "--no-verify", "-m", f"train {name}", cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)


def mlflow_runs(store: Path) -> list[tuple[str, str, float]]:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri="file:" + str(store))
    out = []
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id]):
            out.append((exp.name, run.info.run_name, run.data.metrics["accuracy"]))
    return sorted(out)


def test_track_twice_and_mlflow_sees_every_run(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = plain_project
    git("branch", "stable/other", "stable/model", cwd=repo)
    first = train(repo, "stable/model", "churn", "run-a", 0.1, 0.81)
    r = bml("track", "stable/model", "--json", cwd=repo)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert len(out["mlflow_runs"]) == 1 and "tracking/runs.jsonl" in out["files"]
    assert bml("track", "stable/model", cwd=repo).out == (
        f"Nothing to track: stable/model {first[:10]} is in main's run log already.\n")
    # the other stable branch: same experiment name, made in its own store (its own id)
    git("checkout", "-q", "stable/other", cwd=repo)
    train(repo, "stable/other", "churn", "run-b", 0.2, 0.86)
    train(repo, "stable/other", "ablation", "run-c", 0.3, 0.79)
    assert bml("track", "stable/other", cwd=repo).code == 0
    git("checkout", "-q", "main", cwd=repo)
    assert git("status", "--porcelain", cwd=repo) == ""
    assert mlflow_runs(repo / "mlruns") == [("ablation", "run-c", 0.79),
                                            ("churn", "run-a", 0.81), ("churn", "run-b", 0.86)]
    rows = json.loads(bml("runs", "--json", cwd=repo).out)
    assert [r["branch"] for r in rows] == ["stable/other", "stable/model"]
    assert rows[0]["metrics"] == {"accuracy": 0.79}
    best = json.loads(bml("runs", "--sort", "accuracy", "--json", cwd=repo).out)
    assert best[0]["metrics"]["accuracy"] == 0.81
    cmp = json.loads(bml("runs", "compare", first[:10], rows[0]["commit"][:10], "--json",
                         cwd=repo).out)
    assert cmp["metric accuracy"]["delta"] == pytest.approx(-0.02)
    assert "stable/model" in bml("runs", cwd=repo).out


def test_track_tag_and_dry_run(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = plain_project
    train(repo, "stable/model", "churn", "run-a", 0.1, 0.8)
    assert bml("tag", "--client", "acme", cwd=repo).code == 0
    before = snapshot(repo)
    r = bml("track", "acme-v1", "--dry-run", cwd=repo)
    assert r.code == 0 and r.out.startswith("Would track acme-v1 onto main")
    assert snapshot(repo) == before
    assert bml("track", "acme-v1", cwd=repo).code == 0
    rows = json.loads(bml("runs", "--json", cwd=repo).out)
    assert rows[0]["tag"] == "acme-v1"


def test_track_refuses_non_stable(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(plain_project, {"data/a.csv": "a\n"}, branch="raw")
    r = bml("track", "raw", cwd=plain_project)
    assert r.code == 1 and "is not on a stable/* branch" in r.err


def test_runs_compare_unknown(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("runs", "compare", "x", "y", cwd=plain_project)
    assert r.code == 2 and "'x' names no run in main's run log" in r.err


def test_runs_plot(plain_project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    train(plain_project, "stable/model", "churn", "run-a", 0.1, 0.8)
    bml("track", cwd=plain_project)
    r = bml("runs", "plot", "accuracy", "-o", str(tmp_path / "acc.png"), cwd=plain_project)
    assert r.code == 0 and (tmp_path / "acc.png").read_bytes()[:4] == b"\x89PNG"


def test_runs_plot_without_matplotlib(plain_project: Path, bml, tmp_path: Path,  # type: ignore[no-untyped-def]
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = bml("runs", "plot", "accuracy", "-o", str(tmp_path / "a.png"), cwd=plain_project)
    assert (r.code, r.err) == (4, "branchml: error: runs plot needs matplotlib: pip install "
                                  "'branchml[plot]'.\n")
