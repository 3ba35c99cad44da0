"""Issue 19, a newcomer's walk, part f2: configs, messages and paths the walk tripped on.

Each refusal is tried the way a user or an attacker would reach it (the CLI, a commit on main
through the hook, a push without hooks to a real bare server), beside a legitimate twin."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import test_push
from tests.conftest import commit, git, git_proc, write

remote, server = test_push.remote, test_push.server  # the bare server fixtures, shared
F = "branchml.yaml"
TEMPLATE = (Path(__file__).parent.parent / "templates" / F).read_text()
CLASH = ("branchml.yaml: monitor.target names malignant, but monitor.columns gives it the "
         "role ignore; give the column one role.")


def monitor_config(columns: str) -> str:
    """The template with `monitor.target: malignant` and `monitor.columns` as given."""
    out = TEMPLATE.replace("  target: null\n", f"  target: malignant\n  columns: {columns}\n", 1)
    assert out != TEMPLATE
    return out


# --- 1. a column given two roles is an invalid config ---------------------------------------

def test_config_validate_refuses_target_with_another_role(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    bad = write(tmp_path, F, monitor_config("{malignant: ignore}"))
    r = bml("config", "validate", str(bad))
    assert r.code == 2
    assert r.err.strip() == f"branchml: error: {CLASH}"
    ok = write(tmp_path, F, monitor_config("{malignant: target, id: key}"))  # the twin
    r = bml("config", "validate", str(ok))
    assert r.code == 0, r.err


def test_pre_commit_refuses_target_with_another_role(project: Path) -> None:
    git("checkout", "-q", "main", cwd=project)
    before = git("rev-parse", "main", cwd=project)
    write(project, F, monitor_config("{malignant: ignore}"))
    git("add", F, cwd=project)
    p = git_proc("commit", "-q", "-m", "monitor the label", cwd=project)
    assert p.returncode != 0
    assert f"main: {F} is not a valid config: {CLASH.removeprefix(F + ': ').rstrip('.')}" \
        in p.stderr
    assert "Traceback" not in p.stderr
    assert git("rev-parse", "main", cwd=project) == before
    write(project, F, monitor_config("{malignant: target}"))  # the twin
    git("add", F, cwd=project)
    p = git_proc("commit", "-q", "-m", "monitor the label", cwd=project)
    assert p.returncode == 0, p.stderr


@pytest.mark.slow
def test_pre_receive_refuses_target_with_another_role(project: Path, server: Path) -> None:
    before = git("rev-parse", "main", cwd=server)
    sha = commit(project, {F: monitor_config("{malignant: ignore}")}, branch="main")
    p = git_proc("push", "--no-verify", "origin", "main", cwd=project)
    assert p.returncode != 0
    why = CLASH.removeprefix(F + ": ").rstrip(".")
    assert f"remote:   main: commit {sha[:10]}: {F} is not a valid config: {why}" in p.stderr
    assert git("rev-parse", "main", cwd=server) == before
    git("reset", "-q", "--hard", "HEAD~1", cwd=project)
    commit(project, {F: monitor_config("{malignant: target}")})  # the twin
    p = git_proc("push", "--no-verify", "origin", "main", cwd=project)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "main", cwd=server) == git("rev-parse", "main", cwd=project)
