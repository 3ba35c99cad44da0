"""The one apply layer every write command goes through.

`prepare` runs first, before a command reads its facts: it refuses a git dir that cannot be
written and finishes a write an earlier run left half done (`recovery.py`), so no later check
mistakes that run's files for the user's changes. `apply` then, under the repository lock:
checks everything that could stop the worktree update once the ref moved (`guards.py`: held
index lock, untracked files in the way, uncommitted changes, a rebase or merge in progress),
writes the `begin` line, runs installers (hooks, git config), moves all refs in one
compare-and-swap transaction, and updates the working tree. The ref transaction is the
commit point: a kill before it leaves every ref as it was (installers are idempotent and
re-run), a kill after it leaves the new refs and a `begin` without `end`, which the next
branchml command of any kind finishes. Each step's before/after goes to the operation log.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from branchml.core.plan import (
    Checkout,
    ConfigSet,
    ConfigUnset,
    HookInstall,
    HookRemove,
    LfsInstall,
    Plan,
    RefUpdate,
)
from branchml.errors import StateError
from branchml.repo import faults, guards, hooks, lfs, objectstore, oplog, proc, recovery, worktree
from branchml.repo.lock import RepoLock


def prepare(repo: objectstore.Repo) -> str | None:
    """Before a write command gathers facts: refuse an unwritable git dir, and finish a run
    that was killed midway. Returns what was finished (a sentence), if anything."""
    guards.writable(repo.common_dir, repo.root)
    return recovery.finish_pending(repo)


def not_busy(repo: objectstore.Repo, branch: str) -> None:
    """Refuse early, before a command builds anything, to move a branch that a rebase, merge,
    cherry-pick, revert or bisect is working on (`apply` checks it again under the lock)."""
    moved = [f"refs/heads/{branch}"]
    guards.not_in_progress(repo.git_dir, repo.common_dir, moved)
    guards.not_checked_out_elsewhere(repo.git_dir, repo.common_dir, moved)


def apply(repo: objectstore.Repo, plan: Plan) -> list[dict[str, Any]]:
    common = repo.common_dir
    with RepoLock(common, plan.command):
        recovery.complete(repo)
        refs = [s for s in plan.steps if isinstance(s, RefUpdate)]
        _precheck(repo, plan, refs)
        intent = {"refs": [{"ref": r.ref, "old": r.old, "new": r.new} for r in refs],
                  "checkout": [s.branch for s in plan.steps if isinstance(s, Checkout)]}
        op = oplog.begin(common, plan.command, intent)
        done: list[dict[str, Any]] = []
        try:
            _run(repo, plan, done)
        except _WorktreeFailed as e:
            # the refs moved: the `begin` stays open, so the next command finishes the files
            raise StateError(
                f"{e.branch} moved, but git could not update its files ({e.said}); nothing "
                "is lost: fix that, then run `branchml status` to finish the update."
            ) from None
        except BaseException:
            if not any(d["kind"] == "ref" for d in done):  # before the commit point
                # a refused ref transaction (a held lock, a ref moved meanwhile) must not
                # leave the hooks and config this run changed: all or nothing
                oplog.end(common, op, _put_back(repo, done), ok=False)
            raise  # after it (Ctrl-C, say), the open `begin` gets the run finished
        oplog.end(common, op, done)
        return done


class _WorktreeFailed(Exception):
    def __init__(self, branch: str, said: str) -> None:
        super().__init__(branch)
        self.branch, self.said = branch, said


def _precheck(repo: objectstore.Repo, plan: Plan, refs: list[RefUpdate]) -> None:
    """Everything that would stop this plan after its ref moved, checked before it moves."""
    guards.not_in_progress(repo.git_dir, repo.common_dir, (r.ref for r in refs))
    guards.not_checked_out_elsewhere(repo.git_dir, repo.common_dir, (r.ref for r in refs))
    for step in plan.steps:
        if isinstance(step, Checkout) and repo.root is not None:
            moved = _moved(step, refs)
            if moved is not None and moved.new is not None:
                guards.worktree_ready(repo.root, repo.git_dir, step.branch, moved.old,
                                      moved.new)


def _moved(step: Checkout, refs: list[RefUpdate]) -> RefUpdate | None:
    return next((r for r in refs if r.ref == f"refs/heads/{step.branch}"), None)


def _run(repo: objectstore.Repo, plan: Plan, done: list[dict[str, Any]]) -> None:
    refs = [s for s in plan.steps if isinstance(s, RefUpdate)]
    for step in plan.steps:
        if isinstance(step, HookInstall | HookRemove):
            done.append(_hook(repo, step))
        elif isinstance(step, ConfigSet):
            proc.run(["git", "config", "--local", step.key, step.value], cwd=repo.pg.path)
            done.append({"kind": "config", "key": step.key, "old": step.old, "new": step.value})
        elif isinstance(step, ConfigUnset):
            proc.run(["git", "config", "--local", "--unset-all", step.key], cwd=repo.pg.path)
            done.append({"kind": "config", "key": step.key, "old": step.old, "new": None})
        elif isinstance(step, LfsInstall):
            assert repo.root is not None
            before = {k: local_config(repo, k) for k in LFS_FILTER_KEYS}
            lfs.install_filters(repo.root)
            done.append({"kind": "lfs", "action": "install-filters", "old": before,
                         "new": {k: local_config(repo, k) for k in LFS_FILTER_KEYS}})
        elif isinstance(step, RefUpdate) and step is refs[0]:
            faults.point("refs-before")
            repo.update_refs(refs, f"branchml: {plan.command}")
            faults.point("refs-after")
            done.extend({"kind": "ref", "ref": r.ref, "old": r.old, "new": r.new} for r in refs)
        elif isinstance(step, Checkout):
            _checkout(repo, step, refs)
            done.append({"kind": "worktree", "branch": step.branch})
        if not isinstance(step, RefUpdate | Checkout):
            faults.point("install")


# the keys `git lfs install --local --skip-repo` writes, recorded so `undo` can restore them
LFS_FILTER_KEYS = ("filter.lfs.clean", "filter.lfs.smudge", "filter.lfs.process",
                   "filter.lfs.required", "lfs.repositoryformatversion")


def local_config(repo: objectstore.Repo, key: str) -> str | None:
    """`key` in the repository's own config (.git/config), not the user's or the system's."""
    r = proc.run(["git", "config", "--local", "--get", key], cwd=repo.pg.path, check=False)
    return r.stdout.decode(errors="replace").rstrip("\n") if r.returncode == 0 else None


def _put_back(repo: objectstore.Repo, done: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Take back this run's installer steps, newest first, before its refs moved; returns
    what is still changed (nothing, unless putting back failed too)."""
    left = list(done)
    try:
        while left:
            _take_back(repo, left[-1])
            left.pop()
    except (OSError, proc.ProcessError):
        pass  # the `failed` line then lists what stayed changed, for `undo`
    return left


def _take_back(repo: objectstore.Repo, d: dict[str, Any]) -> None:
    if d["kind"] == "config":
        _config_to(repo, d["key"], d["old"])
    elif d["kind"] == "lfs":
        for key in LFS_FILTER_KEYS:
            _config_to(repo, key, (d.get("old") or {}).get(key))
    elif d["kind"] == "hook":
        path = Path(d["path"])
        if d.get("legacy"):  # install moved the foreign hook aside: move it back
            os.replace(path.with_name(path.name + ".legacy"), path)
        elif d.get("legacy_restored"):  # remove moved it back: move it aside again
            os.replace(path, path.with_name(path.name + ".legacy"))
        if not d.get("legacy"):
            _hook_to(repo, path, d.get("old_blob"), d.get("old_mode"))


def _config_to(repo: objectstore.Repo, key: str, value: str | None) -> None:
    if local_config(repo, key) == value:
        return
    args = ["--unset-all", key] if value is None else [key, value]
    proc.run(["git", "config", "--local", *args], cwd=repo.pg.path)


def _hook_to(repo: objectstore.Repo, path: Path, blob: str | None, mode: int | None) -> None:
    if blob is None:
        path.unlink(missing_ok=True)
        return
    found = repo.pg.get(blob)
    if found is None:
        return
    tmp = path.with_name(f".{path.name}.branchml-tmp")
    tmp.write_bytes(bytes(found.data))
    tmp.chmod(mode if mode is not None else 0o755)
    os.replace(tmp, path)


def _hook(repo: objectstore.Repo, step: HookInstall | HookRemove) -> dict[str, Any]:
    """Install or remove a hook, its file before and after kept as blobs (ids in the log):
    `undo` puts back the exact bytes, and only over the file this step left."""
    path = Path(step.path)
    moved_away = isinstance(step, HookInstall) and step.keep_legacy
    old = None if moved_away or not path.is_file() else _blob(repo, path.read_bytes())
    old_mode = _mode(path) if old is not None else None
    done = hooks.apply_install(step) if isinstance(step, HookInstall) \
        else hooks.apply_remove(step)
    new = _blob(repo, path.read_bytes()) if path.is_file() else None
    # the modes too: undo puts back a hook the user had turned off (chmod -x) as it was
    return {**done, "old_blob": old, "new_blob": new, "old_mode": old_mode,
            "new_mode": _mode(path) if new is not None else None}


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _blob(repo: objectstore.Repo, data: bytes) -> str:
    with objectstore.writing(repo.pg.path):
        return str(repo.pg.create_blob(data))


def _checkout(repo: objectstore.Repo, step: Checkout, refs: list[RefUpdate]) -> None:
    moved = _moved(step, refs)
    if moved is None or moved.new is None or repo.root is None:
        return
    faults.point("worktree-before")
    try:
        worktree.update(repo.root, moved.old, moved.new)
    except proc.ProcessError as e:
        raise _WorktreeFailed(step.branch, str(e).splitlines()[-1] if str(e) else "") from None
    faults.point("worktree-after")
