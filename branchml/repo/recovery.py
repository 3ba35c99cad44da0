"""Finishing a write that was killed midway, from its `begin` line in the operation log.

A write's `begin` carries its intent (the ref moves and checkouts it planned). When the last
line of the log is a `begin` (the run never wrote `end`), the next write command, under the
repository lock, first:
1. removes the lock files the killed run's git processes left (`index.lock`, `config.lock`,
   the locks of the refs it was moving), when they were made after it began and no process has them
   open (git and libgit2 keep a lock open while they write it);
2. rolls its ref moves forward when some of them happened: ref transactions of loose refs
   rename one lock file at a time, so a kill in between leaves some refs moved and others
   not; the others are moved with compare-and-swap from the old value the intent names;
3. finishes the worktree update of a checked-out branch whose ref moved (see
   `worktree.finish`).
The `begin` is then marked `recovered` (something was finished) or `abandoned`. When files
the update would write were changed since the kill, nothing of them is touched: the run's
refs are moved back by compare-and-swap (`rolled-back`), so those changes stay as
uncommitted changes on the commit the files belong to, and the command can be run again.

`pending.py` is the cheap look every branchml command takes first (`cli/main.py`), so the next
command of any kind, read-only ones included, finishes a killed run before anything else.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from branchml.core.plan import RefUpdate
from branchml.errors import StateError
from branchml.repo import objectstore, oplog, proc, worktree
from branchml.repo.lock import RepoLock


def finish_pending(repo: objectstore.Repo) -> str | None:
    """Finish a killed write when there is one, under the lock; what was done, in words."""
    last = oplog.last(repo.common_dir)
    if last is None or last.get("event") != "begin":
        return None
    return recover(repo)


def recover(repo: objectstore.Repo) -> str | None:
    """Complete a killed write, taking the repository lock (see the module docstring)."""
    with RepoLock(repo.common_dir, "recover"):
        return complete(repo)


def complete(repo: objectstore.Repo) -> str | None:
    """Complete a killed write; the caller holds the repository lock. Returns a sentence
    saying what was finished (None: nothing was pending, or nothing needed finishing);
    raises StateError, with that sentence, when it had to roll the run back."""
    common = repo.common_dir
    records = oplog.read(common)
    if not records or records[-1].get("event") != "begin":
        return None
    last = records[-1]
    intent = last.get("intent") or {}
    moves = list(intent.get("refs", []))
    command = str(last.get("command", ""))
    _drop_stale_locks([repo.git_dir / "index.lock", common / "config.lock",
                       common / "packed-refs.lock"]
                      + [common / f"{m['ref']}.lock" for m in moves], last)
    done = []
    if _roll_refs_forward(repo, moves, command):
        done.append("moved the refs it had not moved yet")
    for branch in intent.get("checkout", []):
        move = next((m for m in moves if m["ref"] == f"refs/heads/{branch}"), None)
        if move is None or repo.root is None or repo.head_branch() != branch:
            continue
        if repo.branch_target(branch) == move["new"] and _index_at(repo.root, move["old"]):
            kept = worktree.finish(repo.root, move["old"], move["new"])
            if kept:
                oplog.mark(common, last["op"], _roll_back(repo, moves, command))
                raise StateError(
                    f"rolled back `branchml {command}`, which was killed while it updated the "
                    f"files of {branch}: files changed since then ({', '.join(kept[:5])}) are "
                    "kept as uncommitted changes; commit or stash them, then run the command "
                    "again.")
            done.append(f"updated the files of {branch}")
    oplog.mark(common, last["op"], "recovered" if done else "abandoned")
    if not done:
        return None
    return f"finished `branchml {command}`, which was killed midway: {'; '.join(done)}."


def _roll_back(repo: objectstore.Repo, moves: list[dict[str, Any]], command: str) -> str:
    """Every ref of the killed run back to its old value, by compare-and-swap from the new
    one (a ref someone moved since is left alone)."""
    back = [RefUpdate(m["ref"], m["new"], m["old"]) for m in moves
            if _target(repo, m["ref"]) == m["new"] and m["new"] != m["old"]]
    if back:
        repo.update_refs(back, f"branchml: {command} (rolled back after a kill)")
    return "rolled-back"


def _roll_refs_forward(repo: objectstore.Repo, moves: list[dict[str, Any]], command: str) -> bool:
    """Move the refs a killed transaction left behind, when it moved some of the others and
    the rest are still where it found them."""
    now = {m["ref"]: _target(repo, m["ref"]) for m in moves}
    pending = [m for m in moves if now[m["ref"]] != m["new"]]
    if not pending or len(pending) == len(moves):
        return False
    if any(now[m["ref"]] != m["old"] for m in pending):
        return False  # moved by someone since: nothing to finish safely
    repo.update_refs([RefUpdate(m["ref"], m["old"], m["new"]) for m in pending],
                     f"branchml: {command} (finished after a kill)")
    return True


def _target(repo: objectstore.Repo, ref: str) -> str | None:
    found = repo.pg.references.get(ref)
    return str(found.target) if found is not None else None


def _drop_stale_locks(locks: list[Path], begun: dict[str, Any]) -> None:
    """Remove those of `locks` made after the killed run began that no process has open;
    any other is left for git to report."""
    try:
        began = datetime.fromisoformat(str(begun.get("time"))).timestamp()
    except ValueError:
        return
    for lock in locks:
        try:
            made = lock.stat().st_mtime
        except OSError:
            continue
        if made + 1 >= began and not _held_open(lock):
            lock.unlink(missing_ok=True)


def _held_open(path: Path) -> bool:
    """Whether a process has `path` open (from /proc; True when that cannot be told)."""
    proc_dir = Path("/proc")
    if not (proc_dir / "self" / "fd").is_dir():
        return True
    target = str(path.resolve())
    for fd_dir in proc_dir.glob("[0-9]*/fd"):
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or another user's (unreadable): not counted
            continue
        for fd in fds:
            try:
                if os.readlink(fd_dir / fd) == target:
                    return True
            except OSError:
                continue
    return False


def _index_at(root: Any, commit: str | None) -> bool:
    """Whether the index still holds `commit`'s tree (or is empty, for None)."""
    if commit is None:
        return not proc.output(["git", "ls-files"], cwd=root)
    r = proc.run(["git", "diff-index", "--cached", "--quiet", commit, "--"], cwd=root,
                 check=False)
    return r.returncode == 0
