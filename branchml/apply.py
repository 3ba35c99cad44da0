"""The one apply layer every write command goes through.

Order: installers (hooks, git config), then all ref moves in one compare-and-swap
transaction, then the working tree. The ref transaction is the commit point: a kill before it
leaves every ref as it was (installers are idempotent and re-run), a kill after it leaves the
new refs. Each step's before/after goes to the operation log.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from branchml import git, hooks, lfs, oplog, proc
from branchml.core.plan import (
    Checkout,
    ConfigSet,
    HookInstall,
    HookRemove,
    LfsInstall,
    Plan,
    RefUpdate,
)
from branchml.lock import RepoLock


def apply(repo: git.Repo, plan: Plan) -> list[dict[str, Any]]:
    common = repo.common_dir
    with RepoLock(common, plan.command):
        _recover(repo, common)
        refs = [s for s in plan.steps if isinstance(s, RefUpdate)]
        intent = {"refs": [{"ref": r.ref, "old": r.old, "new": r.new} for r in refs],
                  "checkout": [s.branch for s in plan.steps if isinstance(s, Checkout)]}
        op = oplog.begin(common, plan.command, intent)
        done: list[dict[str, Any]] = []
        try:
            _run(repo, plan, done)
        except BaseException:
            oplog.end(common, op, done, ok=False)
            raise
        oplog.end(common, op, done)
        return done


def _run(repo: git.Repo, plan: Plan, done: list[dict[str, Any]]) -> None:
    refs = [s for s in plan.steps if isinstance(s, RefUpdate)]
    for step in plan.steps:
        if isinstance(step, HookInstall):
            done.append(hooks.apply_install(step))
        elif isinstance(step, HookRemove):
            done.append(hooks.apply_remove(step))
        elif isinstance(step, ConfigSet):
            proc.run(["git", "config", "--local", step.key, step.value], cwd=repo.pg.path)
            done.append({"kind": "config", "key": step.key, "old": step.old, "new": step.value})
        elif isinstance(step, LfsInstall):
            assert repo.root is not None
            lfs.install_filters(repo.root)
            done.append({"kind": "lfs", "action": "install-filters"})
        elif isinstance(step, RefUpdate) and step is refs[0]:
            repo.update_refs(refs, f"branchml: {plan.command}")
            done.extend({"kind": "ref", "ref": r.ref, "old": r.old, "new": r.new} for r in refs)
        elif isinstance(step, Checkout):
            _checkout(repo, step, refs)
            done.append({"kind": "worktree", "branch": step.branch})


def recover(repo: git.Repo) -> bool:
    """Complete a write that was killed between its ref move and its worktree update."""
    with RepoLock(repo.common_dir, "recover"):
        return _recover(repo, repo.common_dir)


def _recover(repo: git.Repo, common: Any) -> bool:
    records = oplog.read(common)
    if not records or records[-1].get("event") != "begin":
        return False
    last = records[-1]
    intent = last.get("intent") or {}
    _drop_stale_index_lock(Path(repo.pg.path), last)
    done = False
    for branch in intent.get("checkout", []):
        move = next((r for r in intent.get("refs", []) if r["ref"] == f"refs/heads/{branch}"),
                    None)
        if move is None or repo.root is None or repo.head_branch() != branch:
            continue
        if repo.branch_target(branch) == move["new"] and _index_at(repo.root, move["old"]):
            git.update_worktree(repo.root, move["old"], move["new"])
            done = True
    oplog.mark(common, last["op"], "recovered" if done else "abandoned")
    return done


def _drop_stale_index_lock(git_dir: Path, begun: dict[str, Any]) -> None:
    """A run killed while its `git read-tree` held the index leaves `index.lock` behind,
    and every later git command that writes the index refuses to run. It is removed when it
    was made after that run began and no process has it open (git keeps the lock open
    while it writes); otherwise it is left for git to report."""
    lock = git_dir / "index.lock"
    try:
        made = lock.stat().st_mtime
        began = datetime.fromisoformat(str(begun.get("time"))).timestamp()
    except (OSError, ValueError):
        return
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


def _checkout(repo: git.Repo, step: Checkout, refs: list[RefUpdate]) -> None:
    moved = next((r for r in refs if r.ref == f"refs/heads/{step.branch}"), None)
    if moved is None or moved.new is None or repo.root is None:
        return
    git.update_worktree(repo.root, moved.old, moved.new)
