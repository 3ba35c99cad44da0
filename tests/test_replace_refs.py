"""Replace refs never change what branchml judges (hostile review of issue 17, finding 9):
a push of refs/replace/* is refused whatever refs.allow says, and a replace ref already on
the server (pushed under an older branchml, or made there by hand) does not make git show
the checker other objects: every branchml process runs git with GIT_NO_REPLACE_OBJECTS=1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import commit, git, git_proc

pytestmark = pytest.mark.slow


def refs(bare: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


def _rows_on_raw(project: Path) -> str:
    tip = commit(project, {"data/x.csv": "a\nb\nc\n"}, msg="rows", branch="raw")
    assert git_proc("push", "origin", "raw", cwd=project).returncode == 0
    return tip


def test_pushing_a_replace_ref_is_refused_even_when_allowed(project: Path,
                                                            installed_server: Path) -> None:
    config = (project / "branchml.yaml").read_text().replace("allow: []",
                                                             'allow: ["refs/**"]')
    commit(project, {"branchml.yaml": config}, msg="refs.allow: everything", branch="main")
    assert git_proc("push", "origin", "main", cwd=project).returncode == 0
    tip = _rows_on_raw(project)
    fake = git("commit-tree", f"{tip}^{{tree}}", "-p", f"{tip}~1", "-m", "fake", cwd=project)
    before = refs(installed_server)
    p = git_proc("push", "--no-verify", "origin", f"{fake}:refs/replace/{tip}", cwd=project)
    assert p.returncode != 0 and "is a replace ref" in p.stderr, p.stderr
    assert refs(installed_server) == before
    # the legitimate twin: a ref refs.allow names, outside refs/replace, is accepted
    p = git_proc("push", "--no-verify", "origin", f"{tip}:refs/notes-like/x", cwd=project)
    assert p.returncode == 0, p.stderr


def test_a_replace_ref_on_the_server_does_not_hide_dropped_rows(project: Path,
                                                                installed_server: Path) -> None:
    tip = _rows_on_raw(project)
    dropped = commit(project, {"data/x.csv": "a\n"}, msg="drop rows b and c", branch="raw")
    # on the server, raw's tip replaced by a commit whose tree already lacks those rows
    fake = git("commit-tree", f"{dropped}^{{tree}}", "-p", f"{tip}~1", "-m", "fake",
               cwd=project)
    git("fetch", "-q", str(project), f"{fake}:refs/tmp/fake", cwd=installed_server)
    git("update-ref", f"refs/replace/{tip}", fake, cwd=installed_server)
    git("update-ref", "-d", "refs/tmp/fake", cwd=installed_server)
    before = git("rev-parse", "refs/heads/raw", cwd=installed_server)
    p = git_proc("push", "--no-verify", "origin", "raw", cwd=project)
    assert p.returncode != 0 and "raw" in p.stderr, p.stderr
    assert git("rev-parse", "refs/heads/raw", cwd=installed_server) == before
