"""`promote` judges what the dev branch changed since it left main, not main's tip against
it: after `track` puts a run record on main, the next promotion of new code still goes
through (found walking issue 19); a dev branch that itself writes tracking is still refused."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import commit, git


def tracked(project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    commit(project, {"data/d.csv": "id,x\n1,2\n2,3\n"}, branch="raw")
    assert bml("pull", "raw", "stable/model", cwd=project).code == 0
    commit(project, {"src/train.py": "print(1)\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    commit(project, {"models/m.pkl": "w", "tracking/runs.jsonl": '{"run": 1}\n'},
           branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    assert bml("track", "acme-v1", cwd=project).code == 0
    return project


def test_new_code_promotes_after_track(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tracked(project, bml)
    assert "tracking/runs.jsonl" in git("ls-tree", "-r", "--name-only", "main", cwd=repo)
    commit(repo, {"src/train.py": "print(2)\n"}, branch="dev/model")
    r = bml("promote", "dev/model", "stable/model", cwd=repo)
    assert r.code == 0, r.err
    assert git("show", "stable/model:src/train.py", cwd=repo) == "print(2)"


def test_tracking_written_on_dev_is_still_refused(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tracked(project, bml)
    git("checkout", "-q", "dev/model", cwd=repo)
    (repo / "tracking").mkdir(exist_ok=True)
    (repo / "tracking" / "runs.jsonl").write_text('{"run": "forged"}\n')
    git("add", "tracking", cwd=repo)
    git("-c", "core.hooksPath=/nonexistent", "commit", "-qm", "forged run", cwd=repo)
    before = git("rev-parse", "stable/model", cwd=repo)
    r = bml("promote", "dev/model", "stable/model", cwd=repo)
    assert r.code == 1 and "tracking does not belong on dev/model" in r.err
    assert git("rev-parse", "stable/model", cwd=repo) == before
