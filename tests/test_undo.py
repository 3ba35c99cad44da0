"""`branchml undo` (issue 20): every write command run, then undone, leaves the repository as
it found it (every ref, local git config, hooks, HEAD, index and files); the refusals change
nothing and say why in one sentence."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, commit, git, write
from tests.test_kills import (
    SCENARIOS,
    Scenario,
    _project,
    _released,
    ok,
    seed_deployable,
    seed_install,
    seed_pull,
)


def branchml(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([f"{BIN}/branchml", *args], cwd=repo, capture_output=True, text=True)


def whole_state(repo: Path) -> dict[str, object]:
    """Everything a write may move: every ref (tags and refs/branchml/* too), the local git
    config, the hook files byte for byte and their modes, HEAD, the index and the worktree's status."""
    hooks = repo / ".git" / "hooks"
    return {
        "refs": git("for-each-ref", "--format=%(refname) %(objectname)", cwd=repo),
        "config": sorted(git("config", "--local", "--list", cwd=repo).splitlines()),
        "hooks": {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(),
                           oct(p.stat().st_mode & 0o777))
                  for p in sorted(hooks.iterdir()) if p.is_file()},
        "head": git("symbolic-ref", "-q", "HEAD", cwd=repo, check=False),
        "index": git("ls-files", "-s", cwd=repo),
        "status": git("status", "--porcelain", "--untracked-files=all", cwd=repo),
    }


def fsck_clean(repo: Path) -> None:
    r = subprocess.run(["git", "fsck", "--full", "--no-dangling"], cwd=repo,
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr


EXTRA = [
    Scenario("deploy --canary", seed_deployable, ()),  # args made in the test (a 2nd tag)
    Scenario("install --uninstall", seed_install, ("install", "--uninstall")),
    Scenario("branch create (checked out elsewhere)", seed_pull, ("branch", "create", "dev/y")),
]


@pytest.mark.parametrize("scenario", SCENARIOS + EXTRA, ids=[s.name for s in SCENARIOS + EXTRA])
def test_undo_restores_the_start(scenario: Scenario, tmp_path: Path) -> None:
    repo = scenario.seed(tmp_path)
    args = scenario.args
    if scenario.name == "deploy --canary":
        commit(repo, {"models/m.pkl": "w2"}, branch="stable/model")
        ok(repo, "tag", "--client", "acme")
        args = ("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2",
                "--fraction", "0.1")
    if scenario.name == "install --uninstall":
        ok(repo, "install")
    before = whole_state(repo)
    ok(repo, *args)
    assert whole_state(repo) != before
    listed = json.loads(branchml(repo, "undo", "--list", "--json").stdout)
    assert listed[0]["state"] == "done" and listed[0]["undoable"], listed[0]
    dry = branchml(repo, "undo", "--dry-run")
    assert dry.returncode == 0 and "Would take back" in dry.stdout, dry.stderr
    done = branchml(repo, "undo")
    assert done.returncode == 0, done.stderr
    assert f"Took back `branchml {listed[0]['command']}`" in done.stdout
    assert whole_state(repo) == before
    fsck_clean(repo)
    assert json.loads(branchml(repo, "undo", "--list", "--json").stdout)[1]["state"] == "undone"


def test_nothing_to_undo(tmp_path: Path) -> None:
    git("init", "-q", str(tmp_path / "r"), cwd=tmp_path)
    r = branchml(tmp_path / "r", "undo")
    assert r.returncode == 0 and "Nothing to undo" in r.stdout
    assert json.loads(branchml(tmp_path / "r", "undo", "--json").stdout)["op"] is None
    assert branchml(tmp_path / "r", "undo", "--list").stdout.startswith("The operation log is")


def test_two_undos_in_a_row_take_back_the_stack(tmp_path: Path) -> None:
    repo = seed_pull(tmp_path)
    start = whole_state(repo)
    ok(repo, "pull", "raw", "clean")
    middle = whole_state(repo)
    ok(repo, "branch", "create", "dev/x")
    ok(repo, "undo")
    assert whole_state(repo) == middle
    second = branchml(repo, "undo")
    assert second.returncode == 0 and "pull raw clean" in second.stdout, second.stderr
    assert whole_state(repo) == start
    fsck_clean(repo)
    rows = json.loads(branchml(repo, "undo", "--list", "--json").stdout)
    assert [r["state"] for r in rows[:4]] == ["done", "done", "undone", "undone"]
    assert rows[0]["command"].startswith("undo ") and not rows[0]["undoable"]


def test_undo_refused_when_a_ref_moved_since(tmp_path: Path) -> None:
    repo = seed_pull(tmp_path)
    ok(repo, "pull", "raw", "clean")
    left = git("rev-parse", "clean", cwd=repo)
    now = commit(repo, {"docs/n.md": "later\n"}, branch="clean")
    before = whole_state(repo)
    r = branchml(repo, "undo")
    assert r.returncode == 1
    assert f"clean moved since `branchml pull raw clean` (now {now[:7]}, it left {left[:7]})" \
        in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert whole_state(repo) == before
    row = json.loads(branchml(repo, "undo", "--list", "--json").stdout)[0]
    assert not row["undoable"] and "clean moved since" in row["why_not"]


def test_undo_refused_over_uncommitted_changes(tmp_path: Path) -> None:
    repo = seed_pull(tmp_path)  # clean is checked out
    ok(repo, "pull", "raw", "clean")
    write(repo, "data/a.csv", "x,y\n1,2\n3,4\n9,9\n")
    before = whole_state(repo)
    r = branchml(repo, "undo")
    assert r.returncode == 1
    assert "clean has uncommitted changes (data/a.csv) that undo would overwrite" in r.stderr
    assert whole_state(repo) == before


def test_undo_refused_after_a_killed_write(tmp_path: Path) -> None:
    repo = seed_pull(tmp_path)
    killed = subprocess.run([f"{BIN}/branchml", "pull", "raw", "clean"], cwd=repo,
                            env={**__import__("os").environ, "BRANCHML_FAULT": "refs-after"},
                            capture_output=True, text=True)
    assert killed.returncode == -9
    ok(repo, "status")  # finishes it (recovery)
    before = whole_state(repo)
    r = branchml(repo, "undo")
    assert r.returncode == 1 and "was killed midway" in r.stderr
    assert whole_state(repo) == before


def test_the_stack_reaches_the_release_tag_below(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    _released(repo)
    ok(repo, "analysis", "start", "acme")
    before = whole_state(repo)
    ok(repo, "undo")
    assert "refs/heads/ds/acme" not in whole_state(repo)["refs"]  # type: ignore[operator]
    # the undo is not undone: the stack goes on to the tag before it
    ok(repo, "undo")
    assert "refs/tags/acme-v1" not in git("for-each-ref", cwd=repo)
    assert before != whole_state(repo)
    fsck_clean(repo)
