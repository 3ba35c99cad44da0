"""The one apply layer every write command goes through.

Order: installers (hooks, git config), then all ref moves in one compare-and-swap
transaction, then the working tree. The ref transaction is the commit point: a kill before it
leaves every ref as it was (installers are idempotent and re-run), a kill after it leaves the
new refs, and a kill inside it (loose refs are renamed into place one at a time) is rolled
forward by the next write, as is a worktree update left half done (`recovery.py`). Each
step's before/after goes to the operation log.
"""

from __future__ import annotations

from typing import Any

from branchml.core.plan import (
    Checkout,
    ConfigSet,
    HookInstall,
    HookRemove,
    LfsInstall,
    Plan,
    RefUpdate,
)
from branchml.repo import hooks, lfs, objectstore, oplog, proc, recovery, worktree
from branchml.repo.lock import RepoLock


def apply(repo: objectstore.Repo, plan: Plan) -> list[dict[str, Any]]:
    common = repo.common_dir
    with RepoLock(common, plan.command):
        recovery.complete(repo)
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


def _run(repo: objectstore.Repo, plan: Plan, done: list[dict[str, Any]]) -> None:
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


def _checkout(repo: objectstore.Repo, step: Checkout, refs: list[RefUpdate]) -> None:
    moved = next((r for r in refs if r.ref == f"refs/heads/{step.branch}"), None)
    if moved is None or moved.new is None or repo.root is None:
        return
    worktree.update(repo.root, moved.old, moved.new)
