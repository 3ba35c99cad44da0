"""Hooks: beside the user's own, core.hooksPath, worktrees, fresh clones, uninstall."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from branchml.repo.hooks import MARKER
from tests.conftest import commit, git, git_proc, snapshot, write

FOREIGN = "#!/bin/sh\necho ran >> \"$(git rev-parse --git-dir)/foreign-{name}.log\"\n"


def foreign_hook(hooks: Path, name: str) -> str:
    hooks.mkdir(parents=True, exist_ok=True)
    text = FOREIGN.format(name=name)
    (hooks / name).write_text(text)
    (hooks / name).chmod(0o755)
    return text


def test_foreign_hook_kept_run_and_restored(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    hooks = plain_project / ".git" / "hooks"
    text = foreign_hook(hooks, "pre-commit")
    r = bml("install", cwd=plain_project)
    assert r.code == 0, r.err
    assert "install hook pre-commit (existing hook kept as pre-commit.legacy)" in r.out
    assert MARKER in (hooks / "pre-commit").read_text()
    assert (hooks / "pre-commit.legacy").read_text() == text
    commit(plain_project, {"docs/x.md": "x\n"}, branch="main", verify=True)
    assert (plain_project / ".git" / "foreign-pre-commit.log").read_text() == "ran\n"
    assert bml("install", cwd=plain_project).out.startswith("Nothing to do")
    r = bml("install", "--uninstall", cwd=plain_project)
    assert r.code == 0 and "remove hook pre-commit (restore pre-commit.legacy)" in r.out
    assert (hooks / "pre-commit").read_text() == text
    assert not (hooks / "pre-commit.legacy").exists()
    assert not (hooks / "pre-push").exists()
    assert bml("install", "--uninstall", cwd=plain_project).out.startswith("Nothing to do")


def test_hook_refuses_and_foreign_hook_not_reached(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    foreign_hook(plain_project / ".git" / "hooks", "pre-commit")
    bml("install", cwd=plain_project)
    write(plain_project, "train.py", "print(1)\n")
    git("add", "train.py", cwd=plain_project)
    p = git_proc("commit", "-m", "code on main", cwd=plain_project)
    assert p.returncode == 1
    assert "main takes no code: commit train.py on a dev/* branch instead" in p.stderr
    assert not (plain_project / ".git" / "foreign-pre-commit.log").exists()


def test_both_hook_and_legacy_foreign(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    hooks = plain_project / ".git" / "hooks"
    foreign_hook(hooks, "pre-push")
    foreign_hook(hooks, "pre-push.legacy")
    before = snapshot(plain_project)
    r = bml("install", cwd=plain_project)
    assert r.code == 4
    assert r.err == (f"branchml: error: {hooks / 'pre-push'} and {hooks / 'pre-push.legacy'} "
                     "both exist and neither is branchml's: move one away, then run the "
                     "command again.\n")
    assert snapshot(plain_project) == before


def test_core_hooks_path_inside_repo(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    git("config", "core.hooksPath", ".githooks", cwd=plain_project)
    r = bml("install", cwd=plain_project)
    assert r.code == 0
    assert MARKER in (plain_project / ".githooks" / "pre-commit").read_text()
    write(plain_project, "x.py", "1\n")
    git("add", "x.py", cwd=plain_project)
    assert git_proc("commit", "-m", "x", cwd=plain_project).returncode == 1


def test_core_hooks_path_outside_repo_refused(plain_project: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "global-hooks"
    git("config", "core.hooksPath", str(outside), cwd=plain_project)
    before = snapshot(plain_project)
    r = bml("install", cwd=plain_project)
    assert r.code == 4
    assert r.err == (f"branchml: error: core.hooksPath points outside the repository ({outside}); "
                     "branchml writes nothing outside it: point core.hooksPath inside the "
                     "repository, or unset it.\n")
    assert not outside.exists()
    assert snapshot(plain_project) == before


def test_linked_worktree(project: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    wt = tmp_path / "wt"
    git("worktree", "add", "-q", str(wt), "dev/model", cwd=project)
    r = bml("install", cwd=wt)
    assert r.out.startswith("Nothing to do")  # hooks live in the common dir, shared
    write(wt, "models/m.pkl", "weights")
    git("add", "models/m.pkl", cwd=wt)
    p = git_proc("commit", "-m", "model on dev", cwd=wt)
    assert p.returncode == 1
    assert "models does not belong on dev/model" in p.stderr


def test_branchml_missing_from_path(plain_project: Path, bml, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    bml("install", cwd=plain_project)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    write(plain_project, "docs/a.md", "a\n")
    git("add", "docs/a.md", cwd=plain_project)
    p = git_proc("commit", "-m", "x", cwd=plain_project)
    assert p.returncode == 1
    assert "the pre-commit hook needs branchml on PATH" in p.stderr


def test_fresh_clone_install(project: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    clone = tmp_path / "clone"
    git("clone", "-q", str(project), str(clone), cwd=tmp_path)
    assert not (clone / ".git" / "hooks" / "pre-commit").exists()
    r = bml("install", "--dry-run", cwd=clone)
    assert "install hook pre-commit" in r.out and not (clone / ".git/hooks/pre-commit").exists()
    r = bml("install", cwd=clone)
    assert r.code == 0
    assert MARKER in (clone / ".git" / "hooks" / "pre-commit").read_text()
    assert git("config", "--local", "filter.lfs.process", cwd=clone) == "git-lfs filter-process"


def test_existing_git_lfs_hooks_are_chained_not_doubled(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "old"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    git("lfs", "install", "--local", cwd=repo)
    commit(repo, {"a.md": "a\n"})
    assert bml("init", str(repo)).code == 0
    hooks = repo / ".git" / "hooks"
    assert "git lfs pre-push" in (hooks / "pre-push.legacy").read_text()
    ours = (hooks / "pre-push").read_text()
    assert "RUN_LFS=0" in ours and "RUN_BRANCHML=1" in ours


def test_bare_repository_gets_pre_receive(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    bare = tmp_path / "srv.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    r = bml("install", cwd=bare)
    assert r.code == 0
    assert MARKER in (bare / "hooks" / "pre-receive").read_text()
    assert os.access(bare / "hooks" / "pre-receive", os.X_OK)
