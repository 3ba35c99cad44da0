"""`branchml undo` of a write that is on a remote already: refused without `--revert`;
`--revert` makes new commits (a revert commit, a deploy record forward) and never touches
the remote until the user pushes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.test_kills import _project, _released, ok, seed_pull
from tests.test_undo import branchml, fsck_clean, whole_state

pytestmark = pytest.mark.slow


def remote_refs(bare: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


def with_remote(repo: Path, tmp_path: Path, relative: bool = False) -> Path:
    """origin, a bare repository holding every branch; `relative`: added as docs/tutorial.md
    adds it (`../server.git`, relative to the worktree top), with the tags pushed too."""
    bare = tmp_path / ("server.git" if relative else "origin.git")
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("remote", "add", "origin", "../server.git" if relative else str(bare), cwd=repo)
    git("push", "-q", "origin", "--all", cwd=repo)
    if relative:
        git("push", "-q", "origin", "--tags", cwd=repo)
    return bare


def test_pushed_pull_refused_then_reverted(tmp_path: Path) -> None:
    repo = seed_pull(tmp_path)
    bare = with_remote(repo, tmp_path)
    before_pull = git("rev-parse", "clean^{tree}", cwd=repo)
    ok(repo, "pull", "raw", "clean")
    left = git("rev-parse", "clean", cwd=repo)
    git("push", "-q", "origin", "clean", cwd=repo)
    on_remote, before = remote_refs(bare), whole_state(repo)
    r = branchml(repo, "undo")
    assert r.returncode == 1 and "is pushed already (clean (origin))" in r.stderr
    assert "`branchml undo --revert`" in r.stderr and len(r.stderr.splitlines()) == 1
    assert whole_state(repo) == before
    done = branchml(repo, "undo", "--revert", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["revert"] is True
    assert git("rev-parse", "clean^", cwd=repo) == left  # a new commit on top
    assert git("rev-parse", "clean^{tree}", cwd=repo) == before_pull
    assert git("status", "--porcelain", cwd=repo) == ""
    assert remote_refs(bare) == on_remote  # untouched until the user pushes
    fsck_clean(repo)
    pushed = git("push", "-q", "origin", "clean", cwd=repo, check=False)
    assert git("rev-parse", "clean", cwd=bare) == git("rev-parse", "clean", cwd=repo), pushed


def test_pushed_deploy_moves_forward(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    _released(repo)
    git("checkout", "-q", "stable/model", cwd=repo)
    (repo / "models" / "m.pkl").write_text("w2")
    git("commit", "-qam", "w2", "--no-verify", cwd=repo)
    ok(repo, "tag", "--client", "acme")
    bare = with_remote(repo, tmp_path)
    git("push", "-q", "origin", "--tags", cwd=repo)
    ok(repo, "deploy", "acme-v1", "--client", "acme", "--push")
    first = git("rev-parse", "refs/deploy/acme", cwd=repo)
    ok(repo, "deploy", "acme-v2", "--client", "acme", "--push")
    second = git("rev-parse", "refs/deploy/acme", cwd=repo)
    on_remote = remote_refs(bare)
    r = branchml(repo, "undo")
    assert r.returncode == 1 and "deploy acme (origin)" in r.stderr, r.stderr
    done = branchml(repo, "undo", "--revert")
    assert done.returncode == 0, done.stderr
    now = git("rev-parse", "refs/deploy/acme", cwd=repo)
    assert git("rev-parse", f"{now}^", cwd=repo) == second  # forward, not back
    assert git("show", f"{now}:deploy.yaml", cwd=repo) == \
        git("show", f"{first}:deploy.yaml", cwd=repo)
    assert "primary: acme-v1" in git("show", f"{now}:deploy.yaml", cwd=repo)
    deployed = json.loads(branchml(repo, "deployed", "--client", "acme", "--json").stdout)
    assert deployed["primary"] == "acme-v1"
    assert remote_refs(bare) == on_remote
    fsck_clean(repo)


def test_pushed_release_tag_stays(tmp_path: Path) -> None:
    repo = _project(tmp_path)
    _released(repo)
    git("checkout", "-q", "stable/model", cwd=repo)
    (repo / "models" / "m.pkl").write_text("w2")
    git("commit", "-qam", "w2", "--no-verify", cwd=repo)
    bare = with_remote(repo, tmp_path)
    ok(repo, "tag", "--client", "acme", "--push")
    tags = git("tag", cwd=repo)
    r = branchml(repo, "undo")
    assert r.returncode == 1 and "tag acme-v2 (origin)" in r.stderr, r.stderr
    done = branchml(repo, "undo", "--revert")
    assert done.returncode == 0, done.stderr
    assert "Kept: release tag acme-v2 is on origin and stays: a pushed release is never taken back." in done.stdout
    assert git("tag", cwd=repo) == tags
    assert "refs/tags/acme-v2" in remote_refs(bare)
    # the stack moves on: the next undo is about the write before the tag
    rows = json.loads(branchml(repo, "undo", "--list", "--json").stdout)
    assert rows[1]["state"] == "undone" and rows[2]["command"] != "tag acme-v2"


def test_revert_refused_where_the_branch_rules_forbid_it(tmp_path: Path) -> None:
    """monitoring is append-only: a revert commit that drops logged rows breaks its rule."""
    repo = _project(tmp_path)
    _released(repo)
    (tmp_path / "prod.csv").write_text("x,y,prediction\n1,2,0\n5,6,1\n")
    bare = with_remote(repo, tmp_path)
    ok(repo, "monitor", "log", "../prod.csv", "--client", "acme", "--tag", "acme-v1")
    git("push", "-q", "origin", "monitoring", cwd=repo)
    on_remote, before = remote_refs(bare), whole_state(repo)
    r = branchml(repo, "undo", "--revert")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "--revert cannot take back `branchml monitor log" in r.stderr
    assert "the rule " in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert whole_state(repo) == before and remote_refs(bare) == on_remote
