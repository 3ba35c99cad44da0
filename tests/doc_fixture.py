"""Repositories the docs' examples assume, built in seconds for tests/test_doc_examples.py.

Hidden setup in a page calls it (`doc-fixture releases acme`); readers never see it. Usage:
`doc_fixture.py releases DIR`: DIR holds a project (model `model`) with four releases for the
client acme, acme-v3 deployed, production rows of acme-v3 on monitoring, and beside DIR the
files a serving process wrote, untracked in the checkout (out/acme-v3/today.csv, out/acme-v4/...).
"""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from pathlib import Path

from branchml import api

FIELDS = ["customer", "tenure", "spend"]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def write_rows(path: Path, rows: int, seed: int, label: str) -> None:
    rnd = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow([*FIELDS, label])
        for i in range(rows):
            out.writerow([f"c{seed}-{i:04d}", rnd.randint(1, 60), round(rnd.uniform(5, 90), 2),
                          rnd.randint(0, 1)])


def data(repo: Path) -> None:
    git(repo, "checkout", "-q", "raw")
    write_rows(repo / "data" / "customers.csv", 300, seed=1, label="churned")
    git(repo, "add", "data")
    git(repo, "commit", "-q", "-m", "raw: customers")
    api.pull("raw", "clean", repo, validate=True)
    api.pull("clean", "split", repo)
    api.split(repo, key="customer")
    api.pull("split", "stable/model", repo)


def release(repo: Path, accuracy: float) -> str:
    git(repo, "checkout", "-q", "stable/model")
    api.split_rows("train", repo.parent / "train.csv", "train", repo)
    (repo / "models").mkdir(exist_ok=True)
    (repo / "models" / "model.pkl").write_bytes(f"weights {accuracy}".encode())
    (repo / "tracking").mkdir(exist_ok=True)
    (repo / "tracking" / "metrics.json").write_text(f'{{"accuracy": {accuracy}}}')
    git(repo, "add", "models", "tracking")
    git(repo, "commit", "-q", "-m", f"train: accuracy {accuracy}")
    tag = api.tag("acme", path=repo)["tag"]
    api.track(tag, repo)
    return tag


def releases(repo: Path) -> None:
    api.init(repo, model="model")
    data(repo)
    git(repo, "checkout", "-q", "main")
    config = (repo / "branchml.yaml").read_text()
    (repo / "branchml.yaml").write_text(config.replace("target: null", "target: churned"))
    git(repo, "commit", "-q", "-am", "monitor: the label column is churned")
    for accuracy in (0.78, 0.80, 0.81, 0.84):
        release(repo, accuracy)
    api.deploy("acme", "acme-v3", repo)
    prod = repo.parent / "prod" / "2026-11-21.csv"
    write_rows(prod, 200, seed=2, label="prediction")
    api.monitor_log([prod], "acme", "acme-v3", repo)
    # What serving wrote (docs/tracking-monitoring.md, canary): in the checkout, left untracked.
    for tag, seed in (("acme-v3", 3), ("acme-v4", 4)):
        write_rows(repo / "out" / tag / "today.csv", 100, seed=seed, label="prediction")
    with (repo / ".git" / "info" / "exclude").open("a") as f:
        f.write("/out/\n")
    git(repo, "checkout", "-q", "main")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "releases":
        sys.exit("usage: doc_fixture.py releases DIR")
    releases(Path(sys.argv[2]).resolve())
