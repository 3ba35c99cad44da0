"""`branchml train` and `branchml reproduce` (issue 21): real git, real git-lfs, a real bare
server for the hand-made tag (docs/reproducibility.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from branchml.core import manifest as core
from tests.conftest import commit, empty_server, git, git_proc, snapshot

# a least-squares fit in plain Python; env vars (set by a test, passed through to the
# re-run) make it noisy, nondeterministic or silent, so one release shows every verdict
TRAIN_PY = """\
import json, os, random
rows = [r.split(",") for r in open("data/d.csv").read().splitlines()[1:] if r]
xs = [float(r[0]) for r in rows]
ys = [float(r[1]) for r in rows]
if os.environ.get("BML_TEST_SILENT"):
    raise SystemExit(0)
n = len(xs)
mx, my = sum(xs) / n, sum(ys) / n
sxx = sum((x - mx) ** 2 for x in xs)
sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
slope = sxy / sxx
if os.environ.get("BML_TEST_RANDOM"):
    slope += random.random()
intercept = my - slope * mx
mse = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys)) / n
mse += float(os.environ.get("BML_TEST_NOISE", "0"))
os.makedirs("models", exist_ok=True)
os.makedirs("tracking", exist_ok=True)
with open("models/model.json", "w") as f:
    json.dump({"slope": slope, "intercept": intercept}, f, sort_keys=True)
with open("tracking/metrics.json", "w") as f:
    json.dump({"mse": mse}, f)
print("trained: slope", slope)
"""

DATA = "x,y\n" + "".join(f"{i},{2 * i + 1 + (i % 3) * 0.5}\n" for i in range(30))
COMMAND = [sys.executable, "src/train.py"]


def _config(repo: Path, extra: str) -> None:
    cfg = git("show", "main:branchml.yaml", cwd=repo)
    commit(repo, {"branchml.yaml": cfg + "\n" + extra}, "train command", branch="main")


def _train_config(command: list[str], tolerance: str = "") -> str:
    text = "train:\n  command: " + json.dumps(command) + "\n"
    return text + (f"reproduce:\n  tolerance: {tolerance}\n" if tolerance else "")


def _setup(project: Path, bml, tolerance: str = "") -> Path:  # type: ignore[no-untyped-def]
    _config(project, _train_config(COMMAND, tolerance))
    commit(project, {"src/train.py": TRAIN_PY}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    commit(project, {"data/d.csv": DATA}, branch="raw")
    assert bml("pull", "raw", "stable/model", cwd=project).code == 0
    git("checkout", "-q", "stable/model", cwd=project)
    return project


def _train_and_tag(repo: Path, bml) -> str:  # type: ignore[no-untyped-def]
    r = bml("train", cwd=repo)
    assert r.code == 0, r.err
    assert "commit models/ and tracking/ now" in r.out
    git("add", "models", "tracking", cwd=repo)
    git("commit", "-q", "--no-verify", "-m", "trained", cwd=repo)
    r = bml("tag", "--client", "acme", "--json", cwd=repo)
    assert r.code == 0, r.err
    return str(json.loads(r.out)["tag"])


@pytest.fixture
def released(project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """stable/model trained by `branchml train`, committed and tagged acme-v1."""
    _setup(project, bml, "{mse: 0.001}")
    assert _train_and_tag(project, bml) == "acme-v1"
    return project


def test_train_records_environment_and_reproduce_is_identical(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    env = json.loads((released / "tracking/environment.json").read_text())
    assert env["python"] == sys.version.split()[0] and env["implementation"] == "CPython"
    assert ["pytest", __import__("pytest").__version__] in env["packages"]
    m = core.parse(git("tag", "-l", "--format=%(contents)", "acme-v1", cwd=released))
    assert m is not None and m["train"]["command"] == COMMAND
    assert m["train"]["environment"]["packages"] == len(env["packages"])
    before = snapshot(released)
    r = bml("reproduce", "acme-v1", "--json", cwd=released)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["verdict"] == "identical", out
    assert out["models"] == {"models/model.json": "identical"}
    assert out["environment"] == [] and out["kept"] is None
    assert "trained: slope" in r.err  # the command's output, on stderr
    assert snapshot(released) == before
    assert not list((released / ".git/branchml/reproduce").iterdir())
