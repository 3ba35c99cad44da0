"""`branchml undo` beyond the kill matrix's commands: sync and upgrade, a foreign hook kept
by install, changes made since to a hook or a config key, and a kill during the undo."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, commit, git
from tests.test_clone_sync import cloned, push_all, shared  # noqa: F401  (fixtures)
from tests.test_kills import ok, seed_install, seed_pull
from tests.test_undo import branchml, fsck_clean, whole_state


@pytest.mark.slow
def test_undo_of_sync(shared: Path, project: Path, cloned: Path) -> None:  # noqa: F811
    commit(project, {"data/a.csv": "x\n1\n2\n"}, branch="raw")
    push_all(project)
    before = whole_state(cloned)
    ok(cloned, "sync")
    assert whole_state(cloned) != before
    r = branchml(cloned, "undo")
    assert r.returncode == 0 and "sync origin" in r.stdout, r.stderr
    # refs/remotes/* is the remote's state, which undo never writes (issue 20 fix round 2):
    # the remote-tracking refs stay where sync fetched them, all the rest comes back
    assert _local(whole_state(cloned)) == _local(before)
    fsck_clean(cloned)


def _local(state: dict[str, object]) -> dict[str, object]:
    refs = [ln for ln in str(state["refs"]).splitlines() if not ln.startswith("refs/remotes/")]
    return {**state, "refs": refs}


def test_undo_of_upgrade(tmp_path: Path) -> None:
    repo = seed_install(tmp_path)  # init --no-hooks: upgrade has hooks to install
    (repo / ".git" / "branchml").mkdir(exist_ok=True)
    before = whole_state(repo)
    r = branchml(repo, "upgrade")
    assert r.returncode == 0, r.stderr
    if whole_state(repo) == before:
        pytest.skip("upgrade found nothing to do on a current repository")
    ok(repo, "undo")
    assert whole_state(repo) == before
    fsck_clean(repo)


def test_a_foreign_hook_comes_back(tmp_path: Path) -> None:
    repo = seed_install(tmp_path)
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho the team's own hook\n")
    hook.chmod(0o755)
    before = whole_state(repo)
    ok(repo, "install")
    assert (repo / ".git" / "hooks" / "pre-commit.legacy").is_file()
    ok(repo, "undo")
    assert whole_state(repo) == before
    assert hook.read_text() == "#!/bin/sh\necho the team's own hook\n"
    assert not (repo / ".git" / "hooks" / "pre-commit.legacy").exists()


def test_undo_refused_when_a_hook_changed_since(tmp_path: Path) -> None:
    repo = seed_install(tmp_path)
    ok(repo, "install")
    (repo / ".git" / "hooks" / "pre-push").write_text("#!/bin/sh\nexit 0\n")
    before = whole_state(repo)
    r = branchml(repo, "undo")
    assert r.returncode == 1 and "the pre-push hook changed since `branchml install`" in r.stderr
    assert whole_state(repo) == before


def test_undo_refused_when_a_config_key_changed_since(tmp_path: Path) -> None:
    repo = seed_install(tmp_path)
    git("config", "--unset", "branchml.trustedRef", cwd=repo)
    ok(repo, "install")  # sets it again
    git("config", "branchml.trustedRef", "refs/heads/raw", cwd=repo)
    before = whole_state(repo)
    r = branchml(repo, "undo")
    assert r.returncode == 1
    assert "git config branchml.trustedRef changed since `branchml install`" in r.stderr
    assert whole_state(repo) == before


@pytest.mark.parametrize("point", ["refs-before", "refs-locked", "refs-after",
                                   "worktree-inside"])
def test_a_kill_during_undo_leaves_before_or_after(tmp_path: Path, point: str) -> None:
    repo = seed_pull(tmp_path)  # clean checked out: the undo rewrites its files
    start = whole_state(repo)
    ok(repo, "pull", "raw", "clean")
    pulled = whole_state(repo)
    killed = subprocess.run([f"{BIN}/branchml", "undo"], cwd=repo, capture_output=True,
                            text=True, env={**os.environ, "BRANCHML_FAULT": point})
    assert killed.returncode == -9, killed.stderr
    fsck_clean(repo)
    ok(repo, "status")  # the next command finishes a killed run, as for any write
    assert whole_state(repo) in (start, pulled)
    fsck_clean(repo)
