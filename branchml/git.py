"""The one module that touches pygit2: objects in memory, refs by compare-and-swap.

The git CLI is used here only where git itself must run: updating a working tree (so
git-lfs's smudge filter runs) and reading the worktree's status (libgit2 does not know the
LFS filter and would see every LFS file as modified).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from branchml import proc
from branchml.core.plan import RefUpdate
from branchml.errors import NotARepository, StaleRef, StateError


def _pygit2() -> Any:
    import pygit2  # imported lazily: ~150 ms that read-only commands never pay

    return pygit2


class Repo:
    def __init__(self, path: str | Path) -> None:
        pygit2 = _pygit2()
        found = pygit2.discover_repository(str(path))
        if found is None:
            raise NotARepository(
                f"{Path(path).resolve()} is not in a git repository: run `branchml init` there, "
                "or pass -C PATH."
            )
        self.pg = pygit2.Repository(found)

    @classmethod
    def create(cls, path: Path) -> Repo:
        _pygit2().init_repository(str(path), initial_head="main")
        return cls(path)

    @property
    def root(self) -> Path | None:
        return Path(self.pg.workdir) if self.pg.workdir else None

    @property
    def common_dir(self) -> Path:
        common = proc.output(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                             cwd=self.pg.path)
        return Path(common)

    def head_branch(self) -> str | None:
        """Current branch (also when unborn), None when HEAD is detached."""
        if self.pg.head_is_detached:
            return None
        target = self.pg.references["HEAD"].target
        return str(target).removeprefix("refs/heads/")

    def resolve(self, rev: str) -> str | None:
        try:
            obj = self.pg.revparse_single(rev)
            return str(obj.peel(_pygit2().Commit).id)
        except (KeyError, ValueError, _pygit2().GitError):
            return None

    def branch_target(self, name: str) -> str | None:
        ref = self.pg.references.get(f"refs/heads/{name}")
        return str(ref.target) if ref is not None else None

    def read_file(self, commit: str | None, path: str) -> bytes | None:
        if commit is None:
            return None
        tree = self.pg[commit].tree
        try:
            entry = tree[path]
        except KeyError:
            return None
        blob = self.pg[entry.id]
        return bytes(blob.data) if blob.type_str == "blob" else None

    def signature(self) -> Any:
        try:
            return self.pg.default_signature
        except (KeyError, _pygit2().GitError):
            raise StateError(
                "git does not know who you are: set `git config user.name` and "
                "`git config user.email`, then run the command again."
            ) from None

    def tree_from_files(self, base: str | None, files: Mapping[str, bytes]) -> Any:
        """`base`'s tree (or an empty one) with `files` written over it, in memory."""
        pygit2 = _pygit2()
        index = pygit2.Index()
        if base is not None:
            index.read_tree(self.pg[base].tree)
        for path, data in files.items():
            blob = self.pg.create_blob(data)
            index.add(pygit2.IndexEntry(path, blob, pygit2.enums.FileMode.BLOB))
        return index.write_tree(self.pg)

    def commit_files(self, base: str | None, files: Mapping[str, bytes], message: str) -> str:
        """A commit of `base`'s tree with `files` written over it, built in memory."""
        return self.commit_tree(self.tree_from_files(base, files), [base] if base else [],
                                message)

    def merge_base(self, a: str, b: str) -> str | None:
        found = self.pg.merge_base(a, b)
        return str(found) if found is not None else None

    def commit_tree(self, tree: Any, parents: Sequence[str], message: str) -> str:
        sig = self.signature()
        return str(self.pg.create_commit(None, sig, sig, message, tree, list(parents)))

    def update_refs(self, updates: Sequence[RefUpdate], message: str) -> None:
        """All-or-nothing, each ref checked against its expected old value under its lock."""
        self.signature()  # fail early, with a plain sentence, when no identity is set
        with self.pg.transaction() as tx:
            for u in updates:
                _lock(tx, u.ref, self.common_dir)
            for u in updates:
                current = self.pg.references.get(u.ref)
                now = str(current.target) if current is not None else None
                if now != u.old:
                    raise StaleRef(
                        f"{u.ref} moved while branchml was working (expected "
                        f"{(u.old or 'nothing')[:10]}, found {(now or 'nothing')[:10]}); "
                        "nothing was changed: run the command again."
                    )
            for u in updates:
                if u.new is None:
                    tx.remove(u.ref)
                else:
                    tx.set_target(u.ref, u.new, message=message)

    def config_get(self, key: str) -> str | None:
        cfg = self.pg.config
        return str(cfg[key]) if key in cfg else None


def _lock(tx: Any, ref: str, common_dir: Path) -> None:
    import pygit2

    try:
        tx.lock_ref(ref)
    except pygit2.GitError:
        raise StateError(
            f"{ref} is locked by another git process ({common_dir / ref}.lock exists); wait "
            "for it to finish, or remove that file if no git command is running, then run "
            "the command again."
        ) from None


def worktree_dirty(root: Path) -> list[str]:
    """Tracked paths with uncommitted changes (git's own view, LFS filters included)."""
    out = proc.run(["git", "status", "--porcelain", "-z", "--untracked-files=no"], cwd=root)
    return [e[3:] for e in out.stdout.decode(errors="replace").split("\0") if len(e) > 3]


def update_worktree(root: Path, old: str | None, new: str) -> None:
    """Bring index and files from `old` to `new` the way `git merge --ff` would."""
    if old is None:
        proc.run(["git", "read-tree", "-m", "-u", new], cwd=root)
    else:
        proc.run(["git", "read-tree", "-m", "-u", old, new], cwd=root)


def finish_worktree(root: Path, old: str | None, new: str) -> None:
    """Complete an update from `old` to `new` that a killed run began: the index still holds
    `old`, and git's `read-tree` may have written some of `new`'s files before it died (it
    writes the files, then the index). When every path that differs from `old` is one of
    the update's paths, in its old or its new state (or cut short while being written),
    those files are ours and the update is finished with `read-tree --reset`; anything else
    is someone's change: nothing is touched."""
    try:
        update_worktree(root, old, new)
        return
    except proc.ProcessError:
        if old is None:
            raise
    states = {p: (o, n) for p, o, n in _tree_diff(root, old, new)}
    proc.run(["git", "update-index", "-q", "--refresh"], cwd=root, check=False)
    changed = set(proc.run(["git", "diff-index", "-z", "--name-only", old], cwd=root)
                  .stdout.decode("utf-8", "surrogateescape").split("\0")) - {""}
    changed |= {p for p, (o, _) in states.items() if o is None and os.path.lexists(root / p)}
    present = sorted(p for p in changed if p in states and (root / p).is_file()
                     and not (root / p).is_symlink())
    hashes = proc.run(["git", "hash-object", "--stdin-paths"], cwd=root,
                      stdin="".join(f"{p}\n" for p in present).encode()).stdout.split()
    now: dict[str, str | None] = dict(zip(present, (h.decode() for h in hashes), strict=True))
    for p in changed - now.keys():  # gone: None; a symlink or a directory: never ours
        now[p] = "?" if os.path.lexists(root / p) else None
    foreign = sorted(p for p in changed if p not in states or (
        now[p] not in states[p] and not _cut_short(root, p, states[p][1])))
    if foreign:
        listed = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise StateError(
            f"an earlier branchml run was killed while updating the working tree, and files "
            f"changed since then ({listed}); commit or remove those changes, then run "
            f"`git read-tree -m -u {old[:12]} {new[:12]}` or the command again."
        )
    proc.run(["git", "read-tree", "--reset", "-u", new], cwd=root)


def _cut_short(root: Path, path: str, blob: str | None) -> bool:
    """Whether the file at `path` is a start of `blob`: git writes a checked-out file in
    place, so a kill mid-write leaves its first bytes."""
    file = root / path
    if blob is None or not file.is_file() or file.is_symlink():
        return False
    size = file.stat().st_size
    if size >= int(proc.output(["git", "cat-file", "-s", blob], cwd=root)):
        return False
    p = proc.popen(["git", "cat-file", "blob", blob], cwd=root, stdin=False)
    assert p.stdout is not None
    try:
        with file.open("rb") as f:
            while chunk := f.read(1 << 20):
                if p.stdout.read(len(chunk)) != chunk:
                    return False
        return True
    finally:
        p.kill()
        p.wait()
        for pipe in (p.stdout, p.stderr):
            if pipe is not None:
                pipe.close()


def _tree_diff(root: Path, old: str, new: str) -> list[tuple[str, str | None, str | None]]:
    """(path, blob in `old`, blob in `new`; None where absent) of every file that differs."""
    raw = proc.run(["git", "diff-tree", "-r", "-z", "--no-renames", old, new], cwd=root).stdout
    tokens = raw.decode("utf-8", "surrogateescape").split("\0")
    out = []
    for meta, path in zip(tokens[0::2], tokens[1::2], strict=False):
        if meta.startswith(":"):
            blobs = [None if set(b) == {"0"} else b for b in meta.split(" ")[2:4]]
            out.append((path, blobs[0], blobs[1]))
    return out


def untracked_in_the_way(root: Path, paths: Sequence[str]) -> list[str]:
    return [p for p in paths if (root / p).exists() or (root / p).is_symlink()]
