"""`branchml clone` and `branchml sync` against real bare remotes over file://, pushed to with
plain git; attacks made on the remote by hand (`git update-ref`, `git mktag`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import commit, git, git_proc

pytestmark = pytest.mark.slow


def lfs_objects(repo: Path) -> set[str]:
    store = repo / ".git" / "lfs" / "objects"
    return {p.name for p in store.rglob("*") if p.is_file()} if store.is_dir() else set()


def oid_of(repo: Path, rev: str, path: str) -> str:
    pointer = git("cat-file", "-p", f"{rev}:{path}", cwd=repo)
    return next(ln.split(":", 1)[1] for ln in pointer.splitlines() if ln.startswith("oid "))


def push_all(repo: Path) -> None:
    for spec in (["--all"], ["--tags"], ["refs/deploy/*:refs/deploy/*"]):
        r = git_proc("push", "-q", "origin", *spec, cwd=repo)
        assert r.returncode == 0, r.stderr


@pytest.fixture
def shared(project: Path, tmp_path: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """A project with raw, clean, dev and stable history, a release and a deployment, pushed
    with plain git to a bare `git init --bare -b main` remote; returns the remote."""
    commit(project, {"data/a.csv": "x\n1\n"}, branch="raw")
    assert bml("pull", "raw", "clean", cwd=project).code == 0
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    commit(project, {"models/model.pkl": "w1", "tracking/metrics.json": '{"acc": 0.9}'},
           branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    assert bml("deploy", "acme-v1", "--client", "acme", cwd=project).code == 0
    git("checkout", "-q", "main", cwd=project)
    bare = tmp_path / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("remote", "add", "origin", bare.as_uri(), cwd=project)
    push_all(project)
    return bare


@pytest.fixture
def cloned(shared: Path, tmp_path: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    r = bml("clone", shared.as_uri(), str(tmp_path / "c1"))
    assert r.code == 0, r.err
    return tmp_path / "c1"


def test_clone_is_ready_to_work(shared: Path, project: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("clone", shared.as_uri(), str(tmp_path / "c1"), "--json")
    assert r.code == 0, r.err
    made = json.loads(r.out)
    c = tmp_path / "c1"
    assert {"clean", "dev/model", "main", "raw", "stable/model"} <= set(made["branches"])
    assert made["tags"] == ["acme-v1"] and made["deploys"] == ["acme"]
    status = json.loads(bml("status", "--json", cwd=c).out)
    assert {b["name"] for b in status["branches"]} >= set(made["branches"])
    assert git("config", "branch.raw.merge", cwd=c) == "refs/heads/raw"
    assert json.loads(bml("deployed", "--client", "acme", "--json", cwd=c).out)[
        "primary"] == "acme-v1"
    assert (c / ".git" / "hooks" / "pre-push").is_file()
    assert git("config", "filter.lfs.process", cwd=c)
    # only the checked-out branch's LFS objects: main has none, raw's and stable's stay away
    assert lfs_objects(c) == set()
    commit(c, {"data/b.csv": "y\n2\n"}, branch="raw")
    r = bml("pull", "raw", "clean", cwd=c)
    assert r.code == 0, r.err
