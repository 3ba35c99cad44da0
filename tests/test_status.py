from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, write


def test_status_json(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    git("checkout", "-q", "raw", cwd=plain_project)
    r = bml("status", "--json", cwd=plain_project)
    data = json.loads(r.out)
    assert data["current"] == "raw"
    assert data["policy"] == "refs/heads/main:branchml.yaml"
    raw = next(b for b in data["branches"] if b["name"] == "raw")
    assert raw["kind"] == "data" and raw["protected"] is True
    assert raw["may_change"]["data"] == ["add", "grow"]
    assert data["next_commit"]["data"] == ["add", "grow"]
    assert data["staged_violations"] == []


def test_status_shows_staged_violation_and_unknown_branch(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    git("branch", "feature/x", cwd=plain_project)
    write(plain_project, "x.py", "1\n")
    git("add", "x.py", cwd=plain_project)
    r = bml("status", cwd=plain_project)
    assert r.code == 0
    assert "feature/x" in r.out and "no type" in r.out
    assert "staged change refused: main takes no code" in r.out
    assert "the next commit may touch: docs (all); config (all); tracking (add, grow)" in \
        " ".join(r.out.split())
