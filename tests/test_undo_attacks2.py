"""`branchml undo` against the hostile review of issue 20 (fix round 2): a refused ref
transaction leaves hooks and config as they were, a write killed after its ref moved is not
skipped, undo writes back only what branchml writes (commits, its ref namespaces, its own hook
text, its config forms), the log must be a regular file of sane lines, hook modes come back.
Each attack is made by hand as an attacker would; beside it the legitimate twin."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import BIN, git
from tests.test_kills import _project, _released, ok
from tests.test_undo import branchml, fsck_clean, whole_state
from tests.test_undo_attacks import forged, log_of, refused
from tests.test_undo_fixes import second_release
from tests.test_undo_pushed import with_remote


def _init(tmp_path: Path) -> Path:
    repo = tmp_path / "r"
    ok(tmp_path, "init", str(repo))
    return repo


def test_a_held_ref_lock_leaves_hooks_and_config_as_they_were(tmp_path: Path) -> None:
    """Script 04: the ref transaction fails after the hooks and config were put back."""
    repo = _init(tmp_path)
    git("checkout", "-q", "--detach", cwd=repo)  # so the undo of init may delete main
    lock = repo / ".git" / "refs" / "heads" / "raw.lock"
    lock.touch()
    refused(repo, 4, "is locked by another git process")
    lock.unlink()
    # the twin: with the lock gone the same undo goes through, all of it
    r = branchml(repo, "undo")
    assert r.returncode == 0, r.stderr
    assert git("for-each-ref", "refs/heads", cwd=repo) == ""
    assert not any(p.name == "pre-commit" for p in (repo / ".git" / "hooks").iterdir())


def test_an_undo_killed_among_its_hooks_finishes_when_run_again(tmp_path: Path) -> None:
    repo = _init(tmp_path)
    git("config", "--unset", "branchml.trustedRef", cwd=repo)
    for hook in (repo / ".git" / "hooks").iterdir():
        hook.unlink()
    start = whole_state(repo)
    ok(repo, "install")
    killed = subprocess.run([f"{BIN}/branchml", "undo"], cwd=repo, capture_output=True,
                            text=True, env={**os.environ, "BRANCHML_FAULT": "install"})
    assert killed.returncode == -9, killed.stderr
    ok(repo, "status")
    r = branchml(repo, "undo")
    assert r.returncode == 0 and "install" in r.stdout, r.stderr
    assert whole_state(repo) == start
    fsck_clean(repo)


def _killed_branch_create(tmp_path: Path, point: str) -> Path:
    repo = _init(tmp_path)
    ok(repo, "branch", "create", "dev/a")
    killed = subprocess.run([f"{BIN}/branchml", "branch", "create", "dev/b"], cwd=repo,
                            capture_output=True, text=True,
                            env={**os.environ, "BRANCHML_FAULT": point})
    assert killed.returncode == -9, killed.stderr
    branchml(repo, "status")  # finds nothing to finish: the begin is marked abandoned
    return repo


def test_a_write_killed_after_its_ref_moved_is_not_skipped(tmp_path: Path) -> None:
    """Script 06: undo took back dev/a, the write before the killed one."""
    repo = _killed_branch_create(tmp_path, "refs-after")
    refused(repo, 1, "was killed after it moved dev/b")
    assert git("rev-parse", "-q", "--verify", "refs/heads/dev/a", cwd=repo, check=False)


def test_a_write_killed_before_its_ref_moved_is_skipped(tmp_path: Path) -> None:
    repo = _killed_branch_create(tmp_path, "refs-before")
    r = branchml(repo, "undo")
    assert r.returncode == 0 and "branch create dev/a" in r.stdout, r.stderr
    assert git("for-each-ref", "refs/heads/dev/a", cwd=repo) == ""


def test_a_forged_hook_content_is_refused(tmp_path: Path) -> None:
    """Script 01: the log's old_blob is an attacker's script."""
    repo = _init(tmp_path)
    evil = git("hash-object", "-w", "--stdin", cwd=repo,
               input="#!/bin/sh\ntouch /tmp/pwned\n").strip()
    hook = repo / ".git" / "hooks" / "pre-commit"
    now = git("hash-object", str(hook), cwd=repo).strip()
    forged(repo, [{"kind": "hook", "action": "install", "path": str(hook), "legacy": False,
                   "old_blob": evil, "new_blob": now}], command="install")
    refused(repo, 4, "branchml never writes there")


def test_an_older_hook_comes_back_with_its_mode(tmp_path: Path) -> None:
    """The twin of the forged hook, and script 10: the user's own (disabled) copy of
    branchml's hook comes back byte for byte and mode 644 after upgrade + undo."""
    repo = _init(tmp_path)
    hook = repo / ".git" / "hooks" / "pre-commit"
    with hook.open("a") as f:
        f.write("# an older branchml's hook\n")
    hook.chmod(0o644)
    before = whole_state(repo)
    ok(repo, "upgrade")
    assert oct(hook.stat().st_mode & 0o777) == "0o755"
    r = branchml(repo, "undo")
    assert r.returncode == 0, r.stderr
    assert whole_state(repo) == before


def test_forged_config_values_are_refused(tmp_path: Path) -> None:
    """Script 02: branch.main.remote set to an attacker's URL, trustedRef to no branch."""
    repo = _init(tmp_path)
    forged(repo, [{"kind": "config", "key": "branch.main.remote", "old": "/tmp/attacker.git",
                   "new": None}], command="install")
    refused(repo, 4, "git config branch.main.remote to '/tmp/attacker.git'")
    log_of(repo).write_text("")
    git("config", "branchml.trustedRef", "refs/heads/main", cwd=repo)
    forged(repo, [{"kind": "config", "key": "branchml.trustedRef", "old": "HEAD",
                   "new": "refs/heads/main"}], command="install")
    refused(repo, 4, "branchml never writes there")


def test_a_config_value_of_branchmls_form_comes_back(tmp_path: Path) -> None:
    """The twin of the forged config: a value of branchml's form is written back."""
    repo = _init(tmp_path)
    forged(repo, [{"kind": "config", "key": "branchml.trustedRef", "old": "refs/heads/raw",
                   "new": "refs/heads/main"}], command="install")
    r = branchml(repo, "undo")
    assert r.returncode == 0, r.stderr
    assert git("config", "branchml.trustedRef", cwd=repo).strip() == "refs/heads/raw"


def test_a_ref_forged_to_a_blob_is_refused(tmp_path: Path) -> None:
    """Script 08: a branch set back to a blob breaks fsck and every later command."""
    repo = _init(tmp_path)
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input="hi\n").strip()
    now = git("rev-parse", "dev/model", cwd=repo).strip()
    forged(repo, [{"kind": "ref", "ref": "refs/heads/dev/model", "old": blob, "new": now}],
           command="branch create dev/model")
    refused(repo, 4, "to a blob")


def test_a_ref_outside_branchmls_namespaces_is_refused(tmp_path: Path) -> None:
    """Script 03: refs/remotes/* is never written back; refs/notes/* is refused."""
    repo = _init(tmp_path)
    main = git("rev-parse", "main", cwd=repo).strip()
    forged(repo, [{"kind": "ref", "ref": "refs/notes/x", "old": main, "new": None}])
    refused(repo, 4, "a ref branchml never writes")


def test_a_remote_tracking_move_is_left_alone(tmp_path: Path) -> None:
    repo = _init(tmp_path)
    ok(repo, "branch", "create", "dev/a")
    main = git("rev-parse", "main", cwd=repo).strip()
    forged(repo, [{"kind": "ref", "ref": "refs/remotes/origin/main", "old": main,
                   "new": None}], command="sync origin")
    r = branchml(repo, "undo")
    assert r.returncode == 0, r.stderr
    assert git("for-each-ref", "refs/remotes", cwd=repo) == ""


def test_an_oplog_symlink_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    """Script 05: a write appended to (and cut) a file outside the repository."""
    repo = _init(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("precious line 1\nprecious line 2 without newline")
    log_of(repo).unlink()
    log_of(repo).symlink_to(victim)
    r = branchml(repo, "branch", "create", "dev/x")
    assert r.returncode == 4 and "is a symbolic link" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert victim.read_text().endswith("without newline")
    assert branchml(repo, "undo").returncode == 4


def test_an_oplog_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    repo = _init(tmp_path)
    log_of(repo).unlink()
    os.mkfifo(log_of(repo))
    r = subprocess.run([f"{BIN}/branchml", "undo", "--list"], cwd=repo, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 4 and "not a regular file" in r.stderr, r.stderr


def test_a_line_over_a_mebibyte_is_refused_and_long_fields_are_cut(tmp_path: Path) -> None:
    repo = _init(tmp_path)
    forged(repo, [], command="x" * 100_000)  # long but under the bound: listed, cut
    r = branchml(repo, "undo", "--list", "-n", "1")
    assert r.returncode == 0 and "(100000 characters)" in r.stdout and len(r.stdout) < 5000
    forged(repo, [], command="y" * (2 << 20))
    r = branchml(repo, "undo", "--list")
    assert r.returncode == 4 and "a line over 1 MiB" in r.stderr, r.stderr


def test_minor_inputs(tmp_path: Path) -> None:
    """Script 11: -n negative and -n without --list are usage errors; -n 0 lists all."""
    repo = _init(tmp_path)
    for args in (("--list", "-n", "-1"), ("-n", "3", "--dry-run")):
        r = branchml(repo, "undo", *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert branchml(repo, "undo", "--list", "-n", "0").returncode == 0


def test_a_pushed_tag_with_its_server_unreachable_is_refused(tmp_path: Path) -> None:
    """Script 07: the pushed check of a release tag must not fail open when the server moved
    away for a moment; the twin: reachable again, it is refused as pushed."""
    repo = _project(tmp_path)
    _released(repo)
    second_release(repo)
    bare = with_remote(repo, tmp_path, relative=True)
    ok(repo, "tag", "--client", "acme", "--push")
    bare.rename(tmp_path / "offline.git")
    refused(repo, 1, "could not reach origin to see whether tag acme-v2 was pushed")
    (tmp_path / "offline.git").rename(bare)
    refused(repo, 1, "is pushed already (tag acme-v2 (origin))")
