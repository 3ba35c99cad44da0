"""Writes: the lock, compare-and-swap on refs, and kills at any point."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from branchml.core.plan import RefUpdate
from branchml.errors import StaleRef
from branchml.repo import objectstore
from tests.conftest import BIN, commit, git, snapshot


def test_lock_held(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    lock = plain_project / ".git" / "branchml" / "lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(f"{os.getpid()} init\n")
    before = snapshot(plain_project)
    r = bml("branch", "create", "dev/x", cwd=plain_project)
    assert r.code == 4
    assert r.err == (f"branchml: error: another branchml command holds {lock} ({os.getpid()} "
                     "init); wait for it to finish, or remove the file if no branchml is "
                     "running.\n")
    assert snapshot(plain_project) == before


def test_stale_lock_of_a_dead_process_is_taken_over(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = plain_project / ".git" / "branchml" / "lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(f"{dead.pid} init\n")
    assert bml("branch", "create", "dev/x", cwd=plain_project).code == 0
    assert not lock.exists()


def test_compare_and_swap_refuses_a_moved_ref(plain_project: Path) -> None:
    repo = objectstore.Repo(plain_project)
    old = git("rev-parse", "raw", cwd=plain_project)
    moved = commit(plain_project, {"data/a.csv": "a\n"}, branch="raw")
    with pytest.raises(StaleRef, match="refs/heads/raw moved while branchml was working"):
        repo.update_refs([RefUpdate("refs/heads/dev/y", None, old),
                          RefUpdate("refs/heads/raw", old, old)], "test")
    assert git("rev-parse", "raw", cwd=plain_project) == moved
    assert git("rev-parse", "--verify", "--quiet", "dev/y", cwd=plain_project,
               check=False) == ""  # all or nothing


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.05, 0.15, 0.3, 0.45, 0.6])
def test_kill_during_init_leaves_before_or_after(tmp_path: Path, delay: float) -> None:
    repo = tmp_path / "old"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    first = commit(repo, {"notes.md": "x\n"})
    p = subprocess.Popen([f"{BIN}/branchml", "init", str(repo)], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    git("fsck", "--strict", cwd=repo)
    main = git("rev-parse", "main", cwd=repo)
    heads = git("for-each-ref", "--format=%(refname)", "refs/heads", cwd=repo).splitlines()
    if main == first:  # before: no branch was created
        assert heads == ["refs/heads/main"]
    else:  # after: every branch was created with main, in one transaction
        assert git("rev-parse", "main^", cwd=repo) == first
        assert len(heads) == 7
    rerun = subprocess.run([f"{BIN}/branchml", "init", str(repo)], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert len(git("for-each-ref", "refs/heads", cwd=repo).splitlines()) == 7
    assert git("status", "--porcelain", cwd=repo) == ""


def test_killed_between_ref_move_and_worktree_is_completed_by_rerun(tmp_path: Path) -> None:
    """The ref transaction is the commit point; a run killed right after it leaves a
    `begin` in the operation log, and the next branchml write finishes the worktree."""
    import sys

    repo = tmp_path / "old"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    commit(repo, {"notes.md": "x\n"})
    die = ("import os, sys; import branchml.repo.apply as a; "
           "a._checkout = lambda *args: os._exit(9); "
           "from branchml.cli.main import main; main(['init', sys.argv[1], '--no-lfs'])")
    p = subprocess.run([sys.executable, "-c", die, str(repo)], capture_output=True)
    assert p.returncode == 9
    assert len(git("for-each-ref", "refs/heads", cwd=repo).splitlines()) == 7  # refs: after
    assert git("status", "--porcelain", cwd=repo) != ""                     # worktree: not yet
    rerun = subprocess.run([f"{BIN}/branchml", "init", str(repo), "--no-lfs"],
                           capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "completed an earlier run that was interrupted" in rerun.stdout
    assert git("status", "--porcelain", cwd=repo) == ""
    assert (repo / "docs" / "problem.md").is_file()
    git("fsck", "--strict", cwd=repo)


def _killed_in_read_tree(repo: Path, files_written: bool = False) -> None:
    """`branchml init` killed while git's `read-tree` holds the index: the refs have moved,
    `index.lock` is left behind, and the index still holds the old commit; with
    `files_written`, read-tree had already written the new files (it writes the index last)."""
    import sys

    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    commit(repo, {"notes.md": "x\n"})
    die = ("import os, sys, subprocess; from pathlib import Path\n"
           "import branchml.repo.worktree as w\n"
           "def killed(root, old, new):\n"
           "    if sys.argv[2] == '1':\n"
           "        subprocess.run(['git', 'read-tree', '-m', '-u', old, new], cwd=root)\n"
           "        subprocess.run(['git', 'read-tree', old], cwd=root)  # index: still old\n"
           "    Path(root, '.git', 'index.lock').touch()\n"
           "    os._exit(9)\n"
           "w.update = killed\n"
           "from branchml.cli.main import main; main(['init', sys.argv[1], '--no-lfs'])")
    r = subprocess.run([sys.executable, "-c", die, str(repo), "1" if files_written else "0"])
    assert r.returncode == 9
    assert (repo / ".git" / "index.lock").is_file()
    assert (repo / "docs" / "problem.md").is_file() == files_written


@pytest.mark.parametrize("files", ["not written", "written", "one cut short"])
def test_index_lock_of_a_killed_run_is_cleared_by_the_rerun(tmp_path: Path, files: str) -> None:
    repo = tmp_path / "old"
    _killed_in_read_tree(repo, files != "not written")
    if files == "one cut short":  # killed while git wrote it: its first bytes only
        cut = repo / "docs" / "problem.md"
        cut.write_bytes(cut.read_bytes()[:40])
    rerun = subprocess.run([f"{BIN}/branchml", "init", str(repo), "--no-lfs"],
                           capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert not (repo / ".git" / "index.lock").exists()
    assert git("status", "--porcelain", cwd=repo) == ""
    assert (repo / "docs" / "problem.md").is_file()
    git("fsck", "--strict", cwd=repo)


def test_half_written_worktree_edited_since_is_left_alone(tmp_path: Path) -> None:
    """A file of the killed update changed after the kill is someone's work: the rerun
    keeps it, moves the killed run's refs back by compare-and-swap (so the tree is the old
    commit plus that change), says which file, and a rerun once it is moved away works."""
    repo = tmp_path / "old"
    _killed_in_read_tree(repo, files_written=True)
    first = git("rev-parse", "main@{1}", cwd=repo)
    edited = repo / "docs" / "problem.md"
    edited.write_text("my own notes\n")
    rerun = subprocess.run([f"{BIN}/branchml", "init", str(repo), "--no-lfs"],
                           capture_output=True, text=True)
    assert rerun.returncode == 4
    assert "rolled back `branchml init`" in rerun.stderr
    assert "docs/problem.md" in rerun.stderr and "Traceback" not in rerun.stderr
    assert edited.read_text() == "my own notes\n"
    assert git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads",
               cwd=repo) == f"refs/heads/main {first}"
    assert git("status", "--porcelain", cwd=repo) == "?? docs/"  # only the user's file
    edited.rename(tmp_path / "mine.md")
    again = subprocess.run([f"{BIN}/branchml", "init", str(repo), "--no-lfs"],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert git("status", "--porcelain", cwd=repo) == ""


def test_index_lock_held_open_is_left_alone(tmp_path: Path) -> None:
    """A lock some live process has open is git's business: kept, and the rerun fails
    with git's own message instead of taking it."""
    import sys

    repo = tmp_path / "old"
    _killed_in_read_tree(repo)
    lock = repo / ".git" / "index.lock"
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; f = open(sys.argv[1], 'ab'); "
                               "print('open', flush=True); time.sleep(60)", str(lock)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        rerun = subprocess.run([f"{BIN}/branchml", "init", str(repo), "--no-lfs"],
                               capture_output=True, text=True)
        assert rerun.returncode != 0
        assert "index.lock" in rerun.stderr and "Traceback" not in rerun.stderr
        assert lock.is_file()
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def test_kill_inside_the_ref_transaction_is_rolled_forward(tmp_path: Path) -> None:
    """Loose refs are renamed into place one at a time: a run killed after the first leaves
    one ref moved and the next one's lock file. The rerun removes the stale lock, moves the
    rest from the old values its log names, and finishes the worktree."""
    import sys

    repo = tmp_path / "old"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    first = commit(repo, {"notes.md": "x\n"})
    die = ("import os, sys, subprocess; from pathlib import Path\n"
           "import branchml.repo.objectstore as s\n"
           "def killed(self, updates, message):\n"
           "    first, second = updates[0], updates[1]\n"
           "    subprocess.run(['git', 'update-ref', first.ref, first.new, first.old or ''],\n"
           "                   cwd=sys.argv[1], check=True)\n"
           "    Path(sys.argv[1], '.git', second.ref + '.lock').parent.mkdir(parents=True,\n"
           "                                                               exist_ok=True)\n"
           "    Path(sys.argv[1], '.git', second.ref + '.lock').write_text(second.new)\n"
           "    os._exit(9)\n"
           "s.Repo.update_refs = killed\n"
           "from branchml.cli.main import main; main(['init', sys.argv[1], '--no-lfs'])")
    assert subprocess.run([sys.executable, "-c", die, str(repo)]).returncode == 9
    assert git("rev-parse", "main^", cwd=repo) == first  # main moved (first of the moves)
    assert git("for-each-ref", "refs/heads", cwd=repo).splitlines()[1:] == []  # no other yet
    rerun = subprocess.run([f"{BIN}/branchml", "init", str(repo), "--no-lfs"],
                           capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert len(git("for-each-ref", "refs/heads", cwd=repo).splitlines()) == 7
    assert not list((repo / ".git" / "refs").rglob("*.lock"))
    assert git("status", "--porcelain", cwd=repo) == ""
    git("fsck", "--strict", cwd=repo)


def test_ref_locked_by_another_git_process(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    lock = plain_project / ".git" / "refs" / "heads" / "dev" / "x.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    r = bml("branch", "create", "dev/x", cwd=plain_project)
    assert r.code == 4
    assert "refs/heads/dev/x is locked by another git process" in r.err
    assert lock.is_file()
