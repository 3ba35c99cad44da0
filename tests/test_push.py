"""End to end: real `git push` to a bare repository, through pre-push and pre-receive."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import commit, copied_fixtures, git, git_proc

pytestmark = pytest.mark.slow


project = copied_fixtures()


LOOSE = ("version: 1\nbranches:\n  main: {type: main, may_change: [docs, config]}\n"
         "  raw: {type: data, parent: main, may_change: [data, docs, config]}\n")


@pytest.fixture
def remote(project: Path, tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("remote", "add", "origin", str(bare), cwd=project)
    git("push", "-q", "origin", "--all", cwd=project)
    return bare


@pytest.fixture
def server(project: Path, remote: Path) -> Path:
    """The bare repository with `branchml hook pre-receive` installed by hand."""
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nexec branchml hook pre-receive\n")
    hook.chmod(0o755)
    return remote


def remote_ref(remote: Path, branch: str) -> str:
    return git("rev-parse", branch, cwd=remote)


def test_pre_push_refuses_force_push_of_protected(project: Path, remote: Path) -> None:
    commit(project, {"data/a.csv": "a\n"}, branch="raw")
    git("push", "-q", "origin", "raw", cwd=project)
    before = remote_ref(remote, "raw")
    git("reset", "-q", "--hard", "HEAD~1", cwd=project)
    commit(project, {"data/b.csv": "b\n"})
    p = git_proc("push", "--force", "origin", "raw", cwd=project)
    assert p.returncode != 0
    assert "raw is protected: a force-push (non-fast-forward) is refused" in p.stderr
    assert remote_ref(remote, "raw") == before


def test_pre_push_refuses_deleting_protected_allows_dev(project: Path, remote: Path) -> None:
    p = git_proc("push", "origin", ":stable/model", cwd=project)
    assert p.returncode != 0 and "stable/model is protected: deleting it is refused" in p.stderr
    assert remote_ref(remote, "stable/model")
    assert git_proc("push", "origin", ":dev/model", cwd=project).returncode == 0


def test_pre_push_judges_new_commits(project: Path, remote: Path) -> None:
    commit(project, {"models/m.pkl": "w"}, branch="dev/model")
    p = git_proc("push", "origin", "dev/model", cwd=project)
    assert p.returncode != 0
    assert "models does not belong on dev/model" in p.stderr


def test_pre_push_lfs_objects_reach_the_remote(project: Path, remote: Path) -> None:
    commit(project, {"data/big.csv": "h\n" + "1\n" * 500}, branch="raw")
    assert git_proc("push", "origin", "raw", cwd=project).returncode == 0
    oid = git("lfs", "ls-files", "-l", cwd=project).split()[0]
    assert (remote / "lfs" / "objects" / oid[:2] / oid[2:4] / oid).is_file()


def test_pre_receive_rejects_no_verify_push(project: Path, server: Path) -> None:
    commit(project, {"data/a.csv": "a\n"}, branch="raw")
    git("push", "-q", "origin", "raw", cwd=project)
    before = remote_ref(server, "raw")
    commit(project, {"data/a.csv": "edited\n"})
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=project)
    assert p.returncode != 0
    assert "remote: branchml: push rejected: 1 violation" in p.stderr
    assert "data on raw is append-only: data/a.csv was edited" in p.stderr
    assert remote_ref(server, "raw") == before


def test_pre_receive_rejects_force_and_delete(project: Path, server: Path) -> None:
    commit(project, {"data/a.csv": "a\n"}, branch="raw")
    git("push", "-q", "origin", "raw", cwd=project)
    before = remote_ref(server, "raw")
    git("reset", "-q", "--hard", "HEAD~1", cwd=project)
    p = git_proc("push", "--no-verify", "--force", "origin", "raw", cwd=project)
    assert p.returncode != 0 and "raw is protected: a force-push" in p.stderr
    p = git_proc("push", "--no-verify", "origin", ":raw", cwd=project)
    assert p.returncode != 0 and "raw is protected: deleting it is refused" in p.stderr
    assert remote_ref(server, "raw") == before


def test_push_cannot_loosen_its_own_rules(project: Path, server: Path) -> None:
    """One push edits main's config to allow deleting raw data and deletes raw data."""
    commit(project, {"data/a.csv": "a\n"}, branch="raw")
    git("push", "-q", "origin", "raw", cwd=project)
    raw_before, main_before = remote_ref(server, "raw"), remote_ref(server, "main")
    commit(project, {"branchml.yaml": LOOSE}, branch="main")
    commit(project, {"data/a.csv": None}, branch="raw")
    p = git_proc("push", "--no-verify", "--atomic", "origin", "main", "raw", cwd=project)
    assert p.returncode != 0
    assert "data on raw is append-only: data/a.csv was deleted or renamed" in p.stderr
    assert (remote_ref(server, "raw"), remote_ref(server, "main")) == (raw_before, main_before)
    # and the same through the client hook, which reads the remote's main, not the local one
    p = git_proc("push", "--atomic", "origin", "main", "raw", cwd=project)
    assert p.returncode != 0 and "data/a.csv was deleted" in p.stderr


def test_pre_receive_accepts_a_good_push(project: Path, server: Path) -> None:
    commit(project, {"data/a.csv": "a\n"}, branch="raw")
    commit(project, {"data/a.csv": "a\nb\n", "data/c.csv": "c\n"})
    p = git_proc("push", "origin", "raw", cwd=project)
    assert p.returncode == 0, p.stderr
    assert remote_ref(server, "raw") == git("rev-parse", "raw", cwd=project)


def test_pre_receive_fails_closed_without_lfs_objects(project: Path, server: Path) -> None:
    """--no-verify skips git-lfs's upload too: the server cannot see the grown object."""
    commit(project, {"data/a.csv": "a\n"}, branch="raw")
    commit(project, {"data/a.csv": "a\nb\n"})
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=project)
    assert p.returncode != 0
    assert "growth cannot be verified" in p.stderr and "push without --no-verify" in p.stderr


def test_pre_receive_new_branch_judged(project: Path, server: Path) -> None:
    git("checkout", "-q", "-b", "dev/other", "main", cwd=project)
    commit(project, {"src/a.py": "ok\n"})
    commit(project, {"models/m.pkl": "no\n"})
    p = git_proc("push", "--no-verify", "origin", "dev/other", cwd=project)
    assert p.returncode != 0 and "models does not belong on dev/other" in p.stderr
    assert git_proc("rev-parse", "--verify", "dev/other", cwd=server).returncode != 0
