"""The working tree, updated and read by git itself: so git-lfs's smudge filter runs on
checkout, and the status sees LFS files as git does (libgit2 knows no LFS filter and would
write pointer text, or see every LFS file as modified)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from branchml.errors import StateError
from branchml.repo import proc


def dirty(root: Path) -> list[str]:
    """Tracked paths with uncommitted changes (git's own view, LFS filters included)."""
    out = proc.run(["git", "status", "--porcelain", "-z", "--untracked-files=no"], cwd=root)
    return [e[3:] for e in out.stdout.decode(errors="replace").split("\0") if len(e) > 3]


def update(root: Path, old: str | None, new: str) -> None:
    """Bring index and files from `old` to `new` the way `git merge --ff` would."""
    if old is None:
        proc.run(["git", "read-tree", "-m", "-u", new], cwd=root)
    else:
        proc.run(["git", "read-tree", "-m", "-u", old, new], cwd=root)


def finish(root: Path, old: str | None, new: str) -> None:
    """Complete an update from `old` to `new` that a killed run began: the index still holds
    `old`, and git's `read-tree` may have written some of `new`'s files before it died (it
    writes the files, then the index). When every path that differs from `old` is one of
    the update's paths, in its old or its new state (or cut short while being written),
    those files are ours and the update is finished with `read-tree --reset`; anything else
    is someone's change: nothing is touched."""
    try:
        update(root, old, new)
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
