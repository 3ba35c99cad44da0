"""What must hold before a write moves a ref, checked while nothing has changed yet.

Everything that could stop the worktree update after the ref moved (a held index lock, an
untracked file in the way, uncommitted changes) and everything that makes a ref move wrong
(a rebase, merge, cherry-pick or bisect in progress on that branch, a git dir that cannot be
written) refuses the command here, so a refusal always leaves the repository as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from branchml.errors import DirtyWorktree, StateError, ToolMissing
from branchml.repo import lfs, proc, worktree

# file or folder in a worktree's git dir -> (what is in progress, how to finish or abort it)
IN_PROGRESS = (
    ("rebase-merge", "a rebase", "git rebase --continue` or `git rebase --abort"),
    ("rebase-apply", "a rebase", "git rebase --continue` or `git rebase --abort"),
    ("MERGE_HEAD", "a merge", "git commit` or `git merge --abort"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "git cherry-pick --continue` or "
                                          "`git cherry-pick --abort"),
    ("REVERT_HEAD", "a revert", "git revert --continue` or `git revert --abort"),
    ("BISECT_LOG", "a bisect", "git bisect reset"),
)


def writable(common: Path, root: Path | None) -> None:
    """Refuse a git dir (or worktree) this process cannot write: a read-only mount or
    permissions. Checked before any object is written, so nothing changes."""
    places = [common, common / "objects", common / "refs", common / "branchml"]
    for place in [*places, *([root] if root is not None else [])]:
        if place.exists() and not os.access(place, os.W_OK):
            raise StateError(f"{place} cannot be written (a read-only file system or "
                             "permissions); nothing was changed: make it writable, then run "
                             "the command again.")


def not_in_progress(gitdir: Path, common: Path, refs: Iterable[str]) -> None:
    """Refuse to move a branch that a rebase, merge, cherry-pick, revert or bisect is working
    on, in this worktree or a linked one: git would then finish it on a moved branch."""
    moved = {r.removeprefix("refs/heads/") for r in refs if r.startswith("refs/heads/")}
    dirs = {gitdir, common, *(common / "worktrees").glob("*")}
    for d in sorted(dirs):
        for marker, what, how in IN_PROGRESS:
            if not (d / marker).exists():
                continue
            busy = _branches_of(d) & moved
            if busy:
                raise StateError(f"{sorted(busy)[0]} has {what} in progress; finish it "
                                 f"(`{how}`), then run the command again.")


def not_checked_out_elsewhere(gitdir: Path, common: Path, refs: Iterable[str]) -> None:
    """Refuse to move a branch another worktree has checked out (as `git branch -f` does):
    its files and index would stay at the old commit, and a `git commit -a` there would
    revert the move."""
    moved = {r.removeprefix("refs/heads/") for r in refs if r.startswith("refs/heads/")}
    for d in sorted({common, *(common / "worktrees").glob("*")}):
        if d.resolve() == gitdir.resolve() or not moved:
            continue
        try:
            head = (d / "HEAD").read_text().strip()
        except (OSError, UnicodeDecodeError):
            continue
        branch = head.removeprefix("ref: refs/heads/")
        where = _worktree_of(d, common)
        if branch in moved and head.startswith("ref: ") and _has_worktree(d, common) \
                and Path(where).is_dir():  # a worktree deleted by hand is git's to prune
            raise StateError(f"{branch} is checked out in the worktree {where}; run the "
                             "command there, or check out another branch there first.")


def _has_worktree(d: Path, common: Path) -> bool:
    """A linked worktree's git dir always has one; the common dir only when not bare."""
    if d != common:
        return True
    try:
        bare = (common / "config").read_text()
    except OSError:
        return False
    return "bare = true" not in bare


def _worktree_of(d: Path, common: Path) -> str:
    try:
        return str(Path((d / "gitdir").read_text().strip()).parent)
    except OSError:
        return str(common.parent)


def _branches_of(gitdir: Path) -> set[str]:
    """The branch a worktree has checked out, and the one a rebase or bisect started from."""
    names = set()
    for f in ("HEAD", "rebase-merge/head-name", "rebase-apply/head-name", "BISECT_START"):
        try:
            text = (gitdir / f).read_text().strip()
        except (OSError, UnicodeDecodeError):
            continue
        names.add(text.removeprefix("ref: ").removeprefix("refs/heads/"))
    return names


def _uses_lfs_filter(root: Path) -> bool:
    """Whether checkouts here run git-lfs's filter (asked only when git-lfs is missing)."""
    found = proc.run(["git", "config", "--get-regexp", r"^filter\.lfs\."], cwd=root,
                     check=False)
    return found.returncode == 0 and bool(found.stdout.strip())


def worktree_ready(root: Path, gitdir: Path, branch: str, old: str | None, new: str) -> None:
    """Refuse before the ref moves when git could not bring the files from `old` to `new`."""
    lock = gitdir / "index.lock"
    if lock.exists():
        raise StateError(f"git holds {lock} (another git command is running here); wait for "
                         "it to finish, or remove that file if no git command is running, "
                         "then run the command again.")
    if not lfs.available() and _uses_lfs_filter(root):
        raise ToolMissing("this repository keeps files in git-lfs, but git-lfs is not on "
                          "PATH, so git could not write them: install it (apt-get install -y "
                          "git-lfs); nothing was changed.")
    changed = worktree.dirty(root) if old is not None else []
    if changed:
        listed = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
        raise DirtyWorktree(f"{branch} is checked out with uncommitted changes ({listed}): "
                            "commit or stash them, then run the command again.")
    trial = ["git", "read-tree", "-n", "-m", "-u", *([old] if old else []), new]
    tried = proc.run(trial, cwd=root, check=False)
    if tried.returncode != 0:
        said = [ln.removeprefix("error: ") for ln in tried.stderr.decode(errors="replace")
                .splitlines() if ln.startswith("error: ")]
        raise DirtyWorktree(f"the files of {branch} cannot be updated "
                            f"({'; '.join(said[:3]) or 'git read-tree refused'}): move those "
                            "files away (or commit them), then run the command again.")
