"""The working tree, updated and read by git itself: so git-lfs's smudge filter runs on
checkout, and the status sees LFS files as git does (libgit2 knows no LFS filter and would
write pointer text, or see every LFS file as modified)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from branchml.repo import faults, proc


def dirty(root: Path) -> list[str]:
    """Tracked paths with uncommitted changes (git's own view, LFS filters included)."""
    # --no-optional-locks: a look that writes nothing (no index refresh, no index.lock)
    out = proc.run(["git", "--no-optional-locks", "status", "--porcelain", "-z",
                    "--untracked-files=no"], cwd=root)
    return [e[3:] for e in out.stdout.decode(errors="replace").split("\0") if len(e) > 3]


def update(root: Path, old: str | None, new: str) -> None:
    """Bring index and files from `old` to `new` the way `git merge --ff` would."""
    faults.point("worktree-inside", lambda: _files_only(root, old, new))
    if old is None:
        proc.run(["git", "read-tree", "-m", "-u", new], cwd=root)
    else:
        proc.run(["git", "read-tree", "-m", "-u", old, new], cwd=root)


def _files_only(root: Path, old: str | None, new: str) -> None:
    """The files of the update written, the index left as it is: where a kill inside git's
    read-tree leaves a repository (fault injection only)."""
    scratch = Path(proc.output(["git", "rev-parse", "--absolute-git-dir"], cwd=root)) / \
        "branchml" / "fault-index"
    proc.run(["git", "read-tree", f"--index-output={scratch}", "-m", "-u",
              *([old] if old else []), new], cwd=root)
    scratch.unlink(missing_ok=True)


def finish(root: Path, old: str | None, new: str) -> list[str]:
    """Complete an update from `old` to `new` that a killed run began: the index still holds
    `old`, and git's `read-tree` may have written some of `new`'s files before it died (it
    writes the files, then the index). When every path that differs from `old` is one of
    the update's paths, in its old or its new state (or cut short while being written),
    those files are ours and the update is finished with `read-tree --reset`. Otherwise the
    paths changed since are someone's: they are returned, untouched, and the update's own
    files are put back to `old` (the caller moves the refs back), so the tree is `old` plus
    those changes."""
    try:
        update(root, old, new)
        return []
    except proc.ProcessError:
        if old is None:
            raise
    states = {p: (o, n) for p, o, n in _tree_diff(root, old, new)}
    proc.run(["git", "update-index", "-q", "--refresh"], cwd=root, check=False)
    changed = set(proc.run(["git", "diff-index", "-z", "--name-only", old], cwd=root)
                  .stdout.decode("utf-8", "surrogateescape").split("\0")) - {""}
    changed |= {p for p, (o, _) in states.items() if o is None and os.path.lexists(root / p)}
    now = _hashes(root, sorted(p for p in changed if p in states))
    foreign = sorted(p for p in changed if p not in states or (
        now[p] not in states[p] and not _cut_short(root, p, states[p][1])))
    if foreign:
        _put_back(root, sorted(changed - set(foreign)), states)
        return foreign
    faults.point("worktree-finish")  # reached only when finishing a killed update
    proc.run(["git", "read-tree", "--reset", "-u", new], cwd=root)
    return []


def _hashes(root: Path, paths: list[str]) -> dict[str, str | None]:
    """Blob id of each file now (None: gone; "?": a symlink or a directory, never ours)."""
    present = [p for p in paths if (root / p).is_file() and not (root / p).is_symlink()]
    hashes = proc.run(["git", "hash-object", "--stdin-paths"], cwd=root,
                      stdin="".join(f"{p}\n" for p in present).encode()).stdout.split()
    now: dict[str, str | None] = dict(zip(present, (h.decode() for h in hashes), strict=True))
    for p in set(paths) - now.keys():
        now[p] = "?" if os.path.lexists(root / p) else None
    return now


def _put_back(root: Path, ours: list[str], states: dict[str, tuple[str | None, str | None]]
              ) -> None:
    """The files a killed update wrote, back to their old state (the index holds it)."""
    added = [p for p in ours if states[p][0] is None]
    for p in added:
        (root / p).unlink(missing_ok=True)
    kept = [p for p in ours if states[p][0] is not None]
    if kept:
        proc.run(["git", "checkout-index", "-f", "-z", "--stdin"], cwd=root,
                 stdin="".join(f"{p}\0" for p in kept).encode())


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
