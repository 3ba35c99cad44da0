"""`branchml undo`: take back the newest branchml write of this repository, from its lines in
the operation log (repo/oplog.py, read strictly by undolog.py).

The writes form a stack: an undo is logged as a write too (`undo <op>`), and the next undo
skips it and the write it took back, so a second undo takes back the write before. What a
write moved comes back by the same apply layer the commands use (repo/apply.py): hooks and
git config first, then every ref in one compare-and-swap transaction from the value the write
left, then the checked-out files. Nothing is changed when any of it moved since, when the
files it would rewrite hold uncommitted changes, when the write was killed midway, or when a
ref it moved is on a remote already (then `--revert`, ops/undorevert.py, makes new commits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.core.plan import (
    Checkout,
    ConfigSet,
    ConfigUnset,
    HookInstall,
    HookRemove,
    Plan,
    RefUpdate,
    Step,
)
from branchml.errors import StateError, UndoRefused
from branchml.ops import undolog, undotrust
from branchml.ops.undolog import Op
from branchml.repo import apply, hooks, objectstore, oplog, proc, worktree
from branchml.repo.apply import LFS_FILTER_KEYS, local_config


@dataclass
class UndoReport:
    op: str | None  # None: nothing to undo
    command: str = ""
    restored: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)  # the same in words (ops/undowords.py)
    kept: list[str] = field(default_factory=list)  # what --revert cannot take back
    dry_run: bool = False
    revert: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "command": self.command, "restored": self.restored,
                "said": self.said,
                "kept": self.kept, "dry_run": self.dry_run, "revert": self.revert}


def undo(path: Path, dry_run: bool = False, revert: bool = False) -> UndoReport:
    repo = objectstore.Repo(path)
    if not dry_run:
        apply.prepare(repo)
    op = target(undolog.read_ops(oplog.log_path(repo.common_dir)), repo)
    if op is None:
        return UndoReport(None, dry_run=dry_run, revert=revert)
    if revert:
        from branchml.ops.undorevert import revert_steps
        steps, kept = revert_steps(repo, op)
    else:
        steps, kept = plain_steps(repo, op), []
    from branchml.ops.undowords import said

    report = UndoReport(op.op, op.command, [s.describe() for s in steps],
                        [] if revert else said(repo, op), kept, dry_run, revert)
    # an undo that has nothing to move (a revert of a tag that stays, a sync that only moved
    # remote-tracking refs) is still logged: the stack moves on past the write
    if not dry_run:
        apply.apply(repo, Plan(f"undo {'--revert ' if revert else ''}{op.op}", steps))
    return report


def target(ops: list[Op], repo: objectstore.Repo) -> Op | None:
    """The newest write not undone yet (undos themselves and writes that changed nothing
    skipped); refuses when that write was killed midway."""
    for op in reversed(ops):
        if op.state == "killed midway (abandoned)" and not op.is_undo:
            _moved_nothing(repo, op)
        if op.is_undo or op.state == "undone" or op.state.startswith("killed midway ("):
            continue
        if (op.state == "failed" and not op.changes) or op.state == "failed (put back)":
            continue
        if op.state == "killed midway":
            raise UndoRefused(
                f"the newest write, `branchml {op.command}`, was killed midway, so the log "
                "does not hold all it changed; undo refuses and changed nothing: run "
                "`branchml status` to finish it, then put back what you need by hand "
                "(`branchml undo --list` shows its moves).")
        return op
    return None


def _moved_nothing(repo: objectstore.Repo, op: Op) -> None:
    """A killed write the next command found nothing to finish for ("abandoned") is skipped
    only when its refs are where it found them: killed after its ref transaction (a branch
    not checked out), it did move them, and the log does not say all it changed."""
    moved = [short(m["ref"]) for m in op.intent
             if m["new"] != m["old"] and target_of(repo, m["ref"]) == m["new"]]
    if moved:
        raise UndoRefused(
            f"the newest write, `branchml {op.command}`, was killed after it moved "
            f"{', '.join(moved[:5])}, so the log does not hold all it changed; undo refuses "
            "and changed nothing: put back what you need by hand (`branchml undo --list` "
            "shows the writes), for example `git branch -D` of a branch it made.")


def plain_steps(repo: objectstore.Repo, op: Op) -> list[Step]:
    """The steps that put back what `op` moved, after checking nothing moved since."""
    refs = ref_changes(repo, op)
    # sync and clone bring the remote's refs here: theirs being there is not a push
    fetched = op.command.startswith(("sync ", "clone "))
    pushed = [] if fetched else [f"{short(c['ref'])} ({where})" for c in refs
                                 if (where := pushed_to(repo, c["ref"], c["new"])) is not None]
    if pushed:
        raise UndoRefused(
            f"`branchml {op.command}` is pushed already ({', '.join(pushed)}), and undo never "
            "rewrites a remote; undo refused and changed nothing: run `branchml undo "
            "--revert` to make new commits that take it back.")
    moves = [ref_back(repo, op, c) for c in refs]
    return installer_steps(repo, op) + moves + checkout_steps(repo, moves)


def ref_changes(repo: objectstore.Repo, op: Op) -> list[dict[str, Any]]:
    """`op`'s ref moves undo may take back: remote-tracking refs left alone, and a ref or a
    value branchml never writes refused (ops/undotrust.py)."""
    refs = [c for c in op.changes if c["kind"] == "ref"
            and not c["ref"].startswith(undotrust.SKIPPED)]
    for c in refs:
        problem = undotrust.ref_target_problem(repo, c["ref"], c["old"])
        if problem:
            raise undotrust.refuse(problem)
    return refs


def ref_back(repo: objectstore.Repo, op: Op, c: dict[str, Any]) -> RefUpdate:
    """The move of one ref back, by compare-and-swap from the value the write left."""
    ref, old, new = c["ref"], c["old"], c["new"]
    now = target_of(repo, ref)
    if now != new:
        raise UndoRefused(
            f"{short(ref)} moved since `branchml {op.command}` (now {_id(now)}, it left "
            f"{_id(new)}): undo refuses and changed nothing; take back that later change "
            "first, or move it by hand.")
    if old is not None and repo.pg.get(old) is None:
        raise UndoRefused(f"{short(ref)} was at {old[:7]} before `branchml {op.command}`, "
                           "but that object is not in this repository (pruned?): undo refuses "
                           "and changed nothing.")
    return RefUpdate(ref, new, old, "(undo)")


def checkout_steps(repo: objectstore.Repo, moves: list[RefUpdate]) -> list[Step]:
    """The checked-out branch's files follow its ref back, only over a clean worktree."""
    head = repo.head_branch()
    move = next((m for m in moves if m.ref == f"refs/heads/{head}"), None)
    if move is None or repo.root is None:
        return []
    if move.new is None:
        if all(m.new is None for m in moves if m.ref.startswith("refs/heads/")):
            # every branch goes (undo of init): no branch is left to switch to
            raise UndoRefused(
                f"undo would delete every branch, {head} too, which is checked out: run "
                "`git switch --detach` (the files stay as they are), then run undo again; "
                "nothing was changed.")
        raise UndoRefused(f"undo would delete {head}, which is checked out: switch to "
                          "another branch, then run undo again; nothing was changed.")
    changed = worktree.dirty(repo.root)
    if changed:
        raise UndoRefused(
            f"{head} has uncommitted changes ({', '.join(changed[:5])}) that undo would "
            "overwrite: commit or stash them, then run undo again; nothing was changed.")
    return [Checkout(str(head))]


def installer_steps(repo: objectstore.Repo, op: Op) -> list[Step]:
    steps: list[Step] = []
    for c in reversed(op.changes):
        if c["kind"] == "config":
            steps += config_back(repo, op, c["key"], c.get("old"), c.get("new"))
        elif c["kind"] == "lfs" and isinstance(c.get("old"), dict):
            new = c.get("new") if isinstance(c.get("new"), dict) else {}
            for key in LFS_FILTER_KEYS:
                steps += config_back(repo, op, key, c["old"].get(key), new.get(key))
        elif c["kind"] == "hook":
            steps += hook_back(repo, op, c)
    return steps


def config_back(repo: objectstore.Repo, op: Op, key: str, old: Any, new: Any) -> list[Step]:
    now = local_config(repo, key)
    if now == old:
        return []
    if now != new:
        raise UndoRefused(f"git config {key} changed since `branchml {op.command}` (now "
                           f"{now!r}, it left {new!r}): undo refuses and changed nothing.")
    if old is None:
        return [ConfigUnset(key, str(now))]
    if not isinstance(old, str) or not undotrust.config_value_ok(repo, key, old):
        raise undotrust.refuse(f"the operation log would set git config {key} to "
                               f"{str(old)[:40]!r}, a value branchml never writes there")
    return [ConfigSet(key, old, now)]


def hook_back(repo: objectstore.Repo, op: Op, c: dict[str, Any]) -> list[Step]:
    name = Path(c["path"]).name
    where = hooks.hooks_dir(repo.root or repo.common_dir, repo.root or repo.common_dir) / name
    if Path(c["path"]).resolve() != where:
        raise StateError(f"the operation log names the hook file {c['path'][:80]}, which is not "
                         "this repository's: undo refuses and changed nothing.")
    if "new_blob" not in c:
        raise UndoRefused(f"`branchml {op.command}` was logged by an older branchml that did "
                           f"not keep the {name} hook it replaced: undo cannot restore it.")
    old, legacy = c.get("old_blob"), bool(c.get("legacy") or c.get("legacy_restored"))
    mode = undotrust.mode_of(c, "old_mode")
    now = _file_blob(repo, where)
    if not legacy and now == old and (old is None or mode is None or _mode(where) == mode):
        return []  # already back (an undo killed after its installers, run again)
    if now != c["new_blob"]:
        raise UndoRefused(f"the {name} hook changed since `branchml {op.command}`: undo "
                           "refuses and changed nothing.")
    if c.get("action") == "install" and legacy:
        return [HookRemove(name, str(where), True)]
    if old is None:
        return [HookRemove(name, str(where), False)] if c["new_blob"] else []
    text = undotrust.blob_text(repo, old)
    if text is None or not undotrust.hook_text_ok(name, text):
        raise undotrust.refuse(f"the operation log would write the {name} hook as "
                               f"{old[:7]}, a text that is not branchml's hook, which "
                               "branchml never writes there")
    return [HookInstall(name, str(where), text, keep_legacy=legacy,
                        mode=0o755 if mode is None else mode)]


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _file_blob(repo: objectstore.Repo, path: Path) -> str | None:
    if not path.is_file():
        return None
    return str(objectstore._pygit2().hash(path.read_bytes()))


def pushed_to(repo: objectstore.Repo, ref: str, new: str | None) -> str | None:
    """The remote that has `ref` at the write's value (or past it), or None; refuses when a
    remote cannot be asked (assuming "not pushed" would rewrite what others have)."""
    if new is None:
        return None
    for remote in repo.pg.remotes:
        name = str(remote.name)
        if ref.startswith("refs/heads/"):
            tracking = target_of(repo, f"refs/remotes/{name}/{ref.removeprefix('refs/heads/')}")
            if tracking is not None and _at_or_past(repo, tracking, new):
                return name
        there = _ls_remote(repo, name, ref)
        if there and (ref.startswith("refs/tags/") or _at_or_past(repo, there, new)):
            return name
    return None


def _at_or_past(repo: objectstore.Repo, there: str, new: str) -> bool:
    return there == new or (repo.pg.get(there) is not None and repo.pg.descendant_of(there, new))


def _ls_remote(repo: objectstore.Repo, remote: str, ref: str) -> str | None:
    """`ref`'s value on `remote` (None: not there). Run from the worktree top, as the user's
    own git commands run, so a relative URL (`../server.git`) resolves as it does for them."""
    r = proc.run(["git", "ls-remote", "--", remote, ref], cwd=repo.root or repo.common_dir,
                 check=False)
    if r.returncode != 0:
        said = [line for line in r.stderr.decode(errors="replace").splitlines() if line.strip()]
        why = said[0].removeprefix("fatal: ").rstrip(".") if said else f"exit {r.returncode}"
        raise UndoRefused(
            f"could not reach {remote} to see whether {short(ref)} was pushed ({why}): undo "
            "refused and changed nothing; run undo again when it is reachable, or "
            "`branchml undo --revert`.")
    for line in r.stdout.decode(errors="replace").splitlines():
        sha, _, name = line.partition("\t")
        if name == ref:
            return sha
    return None


def target_of(repo: objectstore.Repo, ref: str) -> str | None:
    found = repo.pg.references.get(ref)
    return str(found.target) if found is not None else None


def short(ref: str) -> str:
    for prefix, say in (("refs/heads/", ""), ("refs/tags/", "tag "), ("refs/deploy/", "deploy ")):
        if ref.startswith(prefix):
            return say + ref.removeprefix(prefix)
    return ref


def _id(value: str | None) -> str:
    return value[:7] if value else "nothing"
