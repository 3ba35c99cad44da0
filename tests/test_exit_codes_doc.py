"""The per-command exit codes (issue 20): one declaration (reference.COMMAND_CODES) feeds both
docs/reference/commands.md and docs/exit-codes.md, and the cheap claims are produced for real:
a failing promotion gate 1, a merge conflict 3, a refused `deploy --push` 1, a refused undo 1."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from branchml.cli import reference
from branchml.errors import ExitCode
from tests.conftest import BIN, commit, empty_server, git, snapshot
from tests.test_kills import ok, seed_pull
from tests.test_push_cmd import refs, release

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_exit_codes_page_holds_a_fresh_table() -> None:
    page = (DOCS / "exit-codes.md").read_text(encoding="utf-8")
    assert reference.with_exit_codes_table(page) == page, (
        "docs/exit-codes.md is stale: run `python -m branchml.cli.reference docs/reference`")


@pytest.mark.parametrize("command", sorted(reference.COMMAND_CODES))
def test_the_reference_lists_each_declared_code(command: str) -> None:
    page = (DOCS / "reference" / "commands.md").read_text(encoding="utf-8")
    section = re.split(r"^#{2,4} `", page.split(f"`branchml {command}`\n", 1)[1],
                       flags=re.MULTILINE)[0]
    line = next(x for x in section.splitlines() if x.startswith("Exit codes:"))
    for code in reference.COMMAND_CODES[command]:
        assert f"{int(code)} ({code.name.lower()})" in line, (command, line)


def test_a_failing_gate_makes_promote_exit_1(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    cfg = git("show", "main:branchml.yaml", cwd=project)
    commit(project, {"branchml.yaml": cfg.replace("require: []", 'require: ["false"]')},
           branch="main")
    commit(project, {"src/train.py": "print(1)\n"}, branch="dev/model")
    before = snapshot(project)
    r = bml("promote", "dev/model", "stable/model", cwd=project)
    assert r.code == ExitCode.VERDICT == 1, r.err
    assert ExitCode.VERDICT in reference.COMMAND_CODES["promote"]
    assert snapshot(project) == before


def test_a_merge_conflict_makes_pull_exit_3(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(plain_project, {"data/x.csv": "id,v\n1,a\n"}, branch="raw")
    commit(plain_project, {"data/x.csv": "id,v,w\n1,a,b\n"}, branch="clean")
    r = bml("pull", "raw", "clean", cwd=plain_project)
    assert r.code == ExitCode.CONFLICT == 3 and "the merge conflicts" in r.err
    assert ExitCode.CONFLICT in reference.COMMAND_CODES["pull"]


@pytest.mark.slow
def test_a_deploy_push_the_server_refuses_exits_1(project: Path, tmp_path: Path,
                                                  bml) -> None:  # type: ignore[no-untyped-def]
    server = empty_server(project, tmp_path)
    release(project, bml)
    assert bml("push", cwd=project).code == 0
    hook = server / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'no deployments today' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = refs(server)
    r = bml("deploy", "acme-v1", "--client", "acme", "--push", cwd=project)
    assert r.code == ExitCode.VERDICT, r.err
    assert "origin refused the push (refs/deploy/acme)" in r.err and "no deployments" in r.err
    assert refs(server) == before
    assert ExitCode.VERDICT in reference.COMMAND_CODES["deploy"]


def test_a_refused_undo_exits_1(tmp_path: Path) -> None:
    repo = seed_pull(tmp_path)
    ok(repo, "pull", "raw", "clean")
    commit(repo, {"docs/n.md": "later\n"}, branch="clean")  # the ref moved since
    r = subprocess.run([f"{BIN}/branchml", "undo"], cwd=repo, capture_output=True, text=True)
    assert r.returncode == ExitCode.VERDICT and "moved since" in r.stderr
    assert reference.COMMAND_CODES["undo"] == (ExitCode.VERDICT,)
