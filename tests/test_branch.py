"""`branchml branch create`: names checked before git, types, parents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import commit, git, snapshot


def test_create_from_parent(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    main = commit(plain_project, {"docs/n.md": "n\n"}, branch="main")
    r = bml("branch", "create", "dev/new-approach", cwd=plain_project)
    assert r.code == 0
    assert r.out == f"Created dev/new-approach from main at {main[:10]}.\n"
    assert git("rev-parse", "dev/new-approach", cwd=plain_project) == main


def test_create_clean_from_raw(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    git("branch", "-D", "clean", "split", cwd=plain_project)
    raw = commit(plain_project, {"data/a.csv": "a\n"}, branch="raw")
    r = bml("branch", "create", "clean", "--json", cwd=plain_project)
    assert json.loads(r.out) == {"name": "clean", "parent": "raw", "sha": raw, "dry_run": False}


def test_dry_run(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(plain_project)
    r = bml("branch", "create", "ds/acme", "--dry-run", cwd=plain_project)
    assert r.code == 0 and r.out.startswith("Would create ds/acme from main")
    assert snapshot(plain_project) == before


def test_from_an_older_commit_of_the_parent(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    old = git("rev-parse", "main", cwd=plain_project)
    commit(plain_project, {"docs/n.md": "n\n"}, branch="main")
    assert bml("branch", "create", "dev/x", "--from", old, cwd=plain_project).code == 0
    assert git("rev-parse", "dev/x", cwd=plain_project) == old


@pytest.mark.parametrize(("name", "code", "message"), [
    ("stable/../x", 2, "'stable/../x' is not a valid branch name: it holds '..', '@{' or '//', "
                       "or is '@'."),
    ("--upload-pack=x", 2, "'--upload-pack=x' is not a valid branch name: it starts with '-'."),
    ("dev/x.lock", 2, "'dev/x.lock' is not a valid branch name: it starts or ends with '/', or "
                      "ends with '.' or '.lock'."),
    ("dev/a b", 2, "'dev/a b' is not a valid branch name: it holds a space, a control "
                   "character or one of ~ ^ : ? * [ \\."),
    ("feature/x", 2, "'feature/x' matches no branch type in branchml.yaml (main, raw, clean, "
                     "split, dev/*, stable/*, monitoring, monitoring/*, ds/*); pick a name that "
                     "matches one."),
    ("dev/model", 2, "branch dev/model already exists."),
    ("main", 2, "main is the main branch; it has no parent to start from."),
])
def test_refused(plain_project: Path, bml, name: str, code: int, message: str) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(plain_project)
    r = bml("branch", "create", "--", name, cwd=plain_project)
    assert (r.code, r.err) == (code, f"branchml: error: {message}\n")
    assert snapshot(plain_project) == before


def test_from_not_on_parent(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    raw = commit(plain_project, {"data/a.csv": "a\n"}, branch="raw")
    r = bml("branch", "create", "dev/x", "--from", raw, cwd=plain_project)
    assert r.code == 2
    assert r.err == (f"branchml: error: --from {raw} is not on main: a dev/* branch starts from "
                     "a commit of main.\n")


def test_missing_parent(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    git("branch", "-D", "raw", "clean", cwd=plain_project)
    r = bml("branch", "create", "clean", cwd=plain_project)
    assert r.code == 4
    assert r.err == ("branchml: error: clean starts from raw, which does not exist here: create "
                     "or fetch raw first.\n")
