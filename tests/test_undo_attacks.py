"""`branchml undo` reads a file anyone with access to the repository can edit (the operation
log): a tampered or torn line is refused in one sentence and nothing of it reaches git. Each
attack writes the log by hand, as an attacker would; beside them the legitimate twin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.test_kills import ok, seed_pull
from tests.test_undo import branchml, fsck_clean, whole_state

OP = "1796000000-0badc0de"


def log_of(repo: Path) -> Path:
    return repo / ".git" / "branchml" / "oplog.jsonl"


def forged(repo: Path, changes: list[dict[str, object]], command: str = "pull raw clean") -> None:
    """A write that never happened, appended as branchml would have logged it."""
    with log_of(repo).open("a") as f:
        f.write(json.dumps({"op": OP, "event": "begin", "time": "2026-11-30T00:00:00+00:00",
                            "command": command, "argv": command.split(), "intent": {}}) + "\n")
        f.write(json.dumps({"op": OP, "event": "end", "time": "2026-11-30T00:00:01+00:00",
                            "changes": changes}) + "\n")


def refused(repo: Path, code: int, said: str) -> None:
    before = whole_state(repo)
    r = branchml(repo, "undo")
    assert r.returncode == code, r.stdout + r.stderr
    assert said in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert whole_state(repo) == before
    fsck_clean(repo)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return seed_pull(tmp_path)  # a project, data on raw, clean checked out


def test_garbage_line_is_refused(repo: Path) -> None:
    with log_of(repo).open("a") as f:
        f.write("rm -rf / # not a record\n")
    refused(repo, 4, "of the operation log")
    assert "is not a record branchml wrote" in branchml(repo, "undo", "--list").stderr


def test_torn_last_line_is_skipped(repo: Path) -> None:
    """The twin: a line cut by a kill (no newline) is what a kill leaves; undo goes on."""
    ok(repo, "pull", "raw", "clean")
    with log_of(repo).open("a") as f:
        f.write('{"op": "17960')
    r = branchml(repo, "undo")
    assert r.returncode == 0 and "pull raw clean" in r.stdout, r.stderr


@pytest.mark.parametrize("ref", ["../../x", "HEAD", "refs/heads/../../../x", "refs/heads/a b"])
def test_ref_names_outside_refs_are_refused(repo: Path, ref: str) -> None:
    raw = git("rev-parse", "raw", cwd=repo)
    forged(repo, [{"kind": "ref", "ref": ref, "old": raw, "new": raw}])
    refused(repo, 4, "which is not a ref under refs/")
    assert not (repo / "x").exists() and not (repo.parent / "x").exists()


def test_a_move_to_an_object_that_does_not_exist_is_refused(repo: Path) -> None:
    clean = git("rev-parse", "clean", cwd=repo)
    forged(repo, [{"kind": "ref", "ref": "refs/heads/clean", "old": "1" * 40, "new": clean}])
    refused(repo, 1, "that object is not in this repository")
    assert git("rev-parse", "clean", cwd=repo) == clean


def test_an_object_id_that_is_not_hex_is_refused(repo: Path) -> None:
    forged(repo, [{"kind": "ref", "ref": "refs/heads/clean", "old": "--upload-pack=x",
                   "new": None}])
    refused(repo, 4, "which is not an object id")


def test_a_config_key_that_runs_code_is_refused(repo: Path) -> None:
    forged(repo, [{"kind": "config", "key": "core.fsmonitor", "old": "touch pwned",
                   "new": None}])
    refused(repo, 4, "names the git config key 'core.fsmonitor', which branchml never writes")
    assert git("config", "--local", "--get", "core.fsmonitor", cwd=repo, check=False) == ""


def test_a_merge_driver_set_back_to_a_command_is_refused(repo: Path) -> None:
    key = "merge.branchml-append.driver"
    now = git("config", "--local", "--get", key, cwd=repo)
    forged(repo, [{"kind": "config", "key": key, "old": "touch pwned", "new": now}])
    refused(repo, 4, "a value branchml never writes there")
    assert git("config", "--local", "--get", key, cwd=repo) == now


def test_a_hook_path_outside_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    evil = tmp_path / "elsewhere" / "pre-commit"
    forged(repo, [{"kind": "hook", "action": "install", "path": str(evil), "legacy": False,
                   "old_blob": None, "new_blob": None}])
    refused(repo, 4, "which is not this repository's")
    assert not evil.exists()


def test_a_line_that_ends_an_op_never_begun_is_refused(repo: Path) -> None:
    with log_of(repo).open("a") as f:
        f.write(json.dumps({"op": OP, "event": "end", "time": "x", "changes": []}) + "\n")
    refused(repo, 4, "that never began")


def test_a_forged_but_well_formed_move_is_held_to_compare_and_swap(repo: Path) -> None:
    """A well-formed line claiming a move that did not happen: the ref is not where the line
    says the write left it, so nothing moves."""
    raw = git("rev-parse", "raw", cwd=repo)
    main = git("rev-parse", "main", cwd=repo)
    forged(repo, [{"kind": "ref", "ref": "refs/heads/main", "old": raw, "new": raw}])
    refused(repo, 1, f"main moved since `branchml pull raw clean` (now {main[:7]}")
