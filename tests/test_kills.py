"""The kill matrix (issue 16, item 4): every write command killed with SIGKILL at each of its
fault points (`branchml/repo/faults.py`), then judged:

1. right after the kill: `git fsck --full` and `git lfs fsck` clean, and the refs as one
   unit at their old or their new state;
2. the next branchml command (`status`) exits 0 and leaves index and files equal to the
   checked-out branch's head (no uncommitted change, no stray file);
3. rerunning the command gives the end state of an uninterrupted run (no row lost or
   doubled), and fsck is still clean.

`make test` runs a sample (each command, a few points); `make test-faults` runs every point
(marker `faults`, env BRANCHML_FULL_KILLS=1) and prints the figures in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import BIN, commit, git

TRACKING = {"tracking/runs.jsonl"}  # holds the time of the run: compared by its line count


def branchml(repo: Path, *args: str, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([f"{BIN}/branchml", *args], cwd=repo, capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


def ok(repo: Path, *args: str) -> None:
    r = branchml(repo, *args)
    assert r.returncode == 0, (args, r.stderr)


# --- the scenarios: a seed repository, the command, the exit codes a rerun may give -------

def _project(root: Path) -> Path:
    repo = root / "repo"
    ok(root, "init", str(repo))
    return repo


def _data(repo: Path) -> None:
    commit(repo, {"data/a.csv": "x,y\n1,2\n3,4\n", "data/b.jsonl": '{"x": 1}\n'}, branch="raw")


def _stable(repo: Path) -> None:
    _data(repo)
    commit(repo, {"src/train.py": "print('train')\n"}, branch="dev/model")
    ok(repo, "promote", "dev/model", "stable/model")
    ok(repo, "pull", "raw", "stable/model")
    commit(repo, {"models/m.pkl": "w1", "tracking/metrics.json": '{"acc": 0.9}'},
           branch="stable/model")


def _released(repo: Path) -> None:
    _stable(repo)
    ok(repo, "tag", "--client", "acme")


def seed_init(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    commit(repo, {"notes.md": "x\n"})
    return repo


def seed_install(root: Path) -> Path:
    repo = root / "repo"
    ok(root, "init", str(repo), "--no-hooks")
    return repo


def seed_pull(root: Path) -> Path:
    repo = _project(root)
    _data(repo)
    git("checkout", "-q", "clean", cwd=repo)
    return repo


def seed_merge(root: Path) -> Path:
    repo = _project(root)
    git("checkout", "-q", "-b", "dev/feat", "dev/model", cwd=repo)
    commit(repo, {"src/feat.py": "print(1)\n"})
    git("checkout", "-q", "dev/model", cwd=repo)
    return repo


def seed_split(root: Path) -> Path:
    repo = _project(root)
    _data(repo)
    ok(repo, "pull", "raw", "clean")
    ok(repo, "pull", "clean", "split")
    git("checkout", "-q", "split", cwd=repo)
    return repo


def seed_promote(root: Path) -> Path:
    repo = _project(root)
    commit(repo, {"src/train.py": "print('train')\n"}, branch="dev/model")
    git("checkout", "-q", "stable/model", cwd=repo)
    return repo


def seed_stable(root: Path) -> Path:
    repo = _project(root)
    _stable(repo)
    git("checkout", "-q", "stable/model", cwd=repo)
    return repo


def seed_track(root: Path) -> Path:
    repo = seed_stable(root)
    git("checkout", "-q", "main", cwd=repo)
    return repo


def seed_released(root: Path) -> Path:
    repo = _project(root)
    _released(repo)
    (root / "prod.csv").write_text("x,y,prediction\n1,2,0\n5,6,1\n")
    git("checkout", "-q", "monitoring", cwd=repo)
    return repo


def seed_deployable(root: Path) -> Path:
    repo = _project(root)
    _released(repo)
    return repo


def seed_rollback(root: Path) -> Path:
    repo = _project(root)
    _released(repo)
    commit(repo, {"models/m.pkl": "w2"}, branch="stable/model")
    ok(repo, "tag", "--client", "acme")
    ok(repo, "deploy", "acme-v1", "--client", "acme")
    ok(repo, "deploy", "acme-v2", "--client", "acme")
    return repo


@dataclass
class Scenario:
    name: str
    seed: Callable[[Path], Path]
    args: tuple[str, ...]
    rerun_codes: tuple[int, ...] = (0,)  # a rerun after a complete run may refuse politely
    volatile: set[str] = field(default_factory=set)


SCENARIOS = [
    Scenario("init", seed_init, ("init", ".")),
    Scenario("install", seed_install, ("install",)),
    Scenario("branch create", seed_pull, ("branch", "create", "dev/x"), (0, 2)),
    Scenario("pull", seed_pull, ("pull", "raw", "clean")),
    Scenario("merge", seed_merge, ("merge", "dev/feat", "--into", "dev/model")),
    Scenario("split", seed_split, ("split",)),
    Scenario("promote", seed_promote, ("promote", "dev/model", "stable/model")),
    Scenario("tag", seed_stable, ("tag", "--client", "acme"), (0, 1)),
    Scenario("deploy", seed_deployable, ("deploy", "acme-v1", "--client", "acme")),
    # plain `rollback` steps back once per run; `--to` names the state, so a rerun agrees
    Scenario("rollback", seed_rollback, ("rollback", "--client", "acme", "--to", "acme-v1")),
    Scenario("track", seed_track, ("track", "stable/model"), volatile=TRACKING),
    Scenario("monitor log", seed_released,
             ("monitor", "log", "../prod.csv", "--client", "acme", "--tag", "acme-v1")),
    Scenario("analysis start", seed_released, ("analysis", "start", "acme"), (0, 2)),
]


# --- what is judged ----------------------------------------------------------------------

def state(repo: Path, volatile: set[str]) -> dict[str, object]:
    """Every ref by what it holds (the tree of its commit, path by path), not by commit id:
    commits made by two runs differ in their time. Paths in `volatile` (which hold a time)
    count by their number of lines."""
    out: dict[str, object] = {}
    listed = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=repo, check=False)
    for line in listed.splitlines():
        ref, sha = line.split(" ")
        tree = git("ls-tree", "-r", f"{sha}^{{commit}}", cwd=repo, check=False)
        entries = [(e.split("\t")[1], e.split(" ")[2][:40]) for e in tree.splitlines()]
        out[ref] = sorted((path, _lines(repo, blob) if path in volatile else blob)
                          for path, blob in entries)
    return out


def _lines(repo: Path, blob: str) -> str:
    """A volatile file by its number of lines: a row doubled or lost still shows."""
    return f"{len(git('cat-file', 'blob', blob, cwd=repo).splitlines())} lines"


def clean(repo: Path) -> None:
    fsck = subprocess.run(["git", "fsck", "--full", "--no-dangling"], cwd=repo,
                          capture_output=True, text=True)
    assert fsck.returncode == 0 and fsck.stdout == "", fsck.stdout + fsck.stderr
    lfs = subprocess.run(["git", "lfs", "fsck"], cwd=repo, capture_output=True, text=True)
    assert lfs.returncode == 0, lfs.stdout + lfs.stderr


def tree_matches_head(repo: Path) -> None:
    status = git("status", "--porcelain", "--untracked-files=all", cwd=repo)
    assert status == "", status


@dataclass
class Case:
    """One scenario: its seed (copied for every trial) and its uninterrupted run."""

    scenario: Scenario
    seed: Path
    before: dict[str, object]
    after: dict[str, object]
    points: list[str]  # the fault points the uninterrupted run reached, in order


def prepare(s: Scenario, root: Path) -> Case:
    (root / "seed").mkdir()
    seed = s.seed(root / "seed")
    before = state(seed, s.volatile)
    done = _copy(seed, root / "clean-run")
    trace = root / "trace.txt"
    r = branchml(done, *s.args, env={"BRANCHML_FAULT_TRACE": str(trace)})
    assert r.returncode == 0, r.stderr
    points = [line.split(" ")[1] for line in trace.read_text().splitlines()]
    return Case(s, seed, before, state(done, s.volatile), points)


def _copy(seed: Path, where: Path) -> Path:
    """The seed's whole folder (the repository and the files beside it), at `where`."""
    shutil.copytree(seed.parent, where, symlinks=True)
    return where / seed.name


def trial(case: Case, n: int, root: Path) -> None:
    s = case.scenario
    repo = _copy(case.seed, root / f"kill-{n}")
    killed = branchml(repo, *s.args, env={"BRANCHML_FAULT": str(n)})
    where = f"{s.name} killed at point {n} ({case.points[n - 1]})"
    assert killed.returncode == -9, (where, killed.returncode, killed.stderr)
    clean(repo)
    assert state(repo, s.volatile) in (case.before, case.after), where
    nxt = branchml(repo, "status")
    assert nxt.returncode == 0 and "Traceback" not in nxt.stderr, (where, nxt.stderr)
    tree_matches_head(repo)
    assert state(repo, s.volatile) in (case.before, case.after), where
    rerun = branchml(repo, *s.args)
    assert rerun.returncode in s.rerun_codes, (where, rerun.stderr)
    assert "Traceback" not in rerun.stderr
    assert state(repo, s.volatile) == case.after, where
    tree_matches_head(repo)
    clean(repo)
    shutil.rmtree(repo.parent)


def sample(points: list[str]) -> list[int]:
    """A few points per command: the first installer, the last object written, inside the
    ref transaction, and inside git's read-tree (else right after the refs moved)."""
    def first(name: str) -> int | None:
        return points.index(name) + 1 if name in points else None

    last_object = len(points) - points[::-1].index("object") if "object" in points else None
    chosen = {first("install"), last_object, first("refs-locked"),
              first("worktree-inside") or first("refs-after")}
    return sorted(n for n in chosen if n is not None)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_sampled_kills(scenario: Scenario, tmp_path: Path) -> None:
    case = prepare(scenario, tmp_path)
    for n in sample(case.points):
        trial(case, n, tmp_path)


@pytest.mark.faults
@pytest.mark.skipif(not os.environ.get("BRANCHML_FULL_KILLS"),
                    reason="the full kill matrix runs with `make test-faults`")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_kill_point(scenario: Scenario, tmp_path: Path) -> None:
    case = prepare(scenario, tmp_path)
    for n in range(1, len(case.points) + 1):
        trial(case, n, tmp_path)
    figures = os.environ.get("BRANCHML_KILLS_REPORT")
    if figures:  # one JSON line per command, gathered by `make test-faults`
        with open(figures, "a") as f:
            f.write(json.dumps({"command": scenario.name, "points": len(case.points),
                                "clean": len(case.points),
                                "kinds": {k: case.points.count(k)
                                          for k in dict.fromkeys(case.points)}}) + "\n")


@pytest.mark.slow
@pytest.mark.parametrize(("first", "second"), [("worktree-before", "worktree-inside"),
                                               ("worktree-inside", "worktree-finish")])
def test_recovery_killed_too(tmp_path: Path, first: str, second: str) -> None:
    """The command killed before or inside git's read-tree, then the command that finishes
    it (`status`) killed as well, inside its own read-tree or before its `read-tree --reset`:
    the one after that still finishes it."""
    case = prepare(SCENARIOS[3], tmp_path)  # pull raw clean, clean checked out
    repo = _copy(case.seed, tmp_path / "twice")
    assert branchml(repo, *case.scenario.args, env={"BRANCHML_FAULT": first}).returncode == -9
    again = branchml(repo, "status", env={"BRANCHML_FAULT": second})
    assert again.returncode == -9, again.stderr
    clean(repo)
    done = branchml(repo, "status")
    assert done.returncode == 0 and "finished `branchml pull raw clean`" in done.stderr
    tree_matches_head(repo)
    assert state(repo, set()) == case.after
    clean(repo)
