"""The checker's proof of a carried removal (pulls.carry_removals, docs/data-moves.md).

On an append-only branch a merge may remove rows only when its source proves them removed:
- its second parent is a commit of a source that `pulls.carry_removals` (trusted config)
  names for this branch, on that source's first-parent history (as it will be after the
  push: a ref outside refs/heads, a tag or a dangling commit proves nothing);
- every row it removes from a file was removed from that file on the source between the
  previous pull and the second parent, and the rest of the file is its old rows, in order,
  then new rows at its end. The previous pull is the newest commit of the source's
  first-parent line the branch holds (`last_pull`), never a merge base off that line (a
  no-op merge of the branch into the source would make it a commit of the branch itself);
- data/split/assignment.csv is never removed or cut by one (a split's items never move);
- a file it deletes is deleted on the source there and was, on this branch, as at the base.
A file that moved between plain git and git-lfs storage proves nothing (git checks a
pointer out as text without the lfs filter: every row of the branch's file would go).
Each version read is bounded (core/bounds.py CARRY_FILE, CARRY_LINE), as the growth check.
All of it is read from git objects (and the LFS store); trailers and messages count for
nothing. Rows are read as the pull reads them (core/removals.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

from branchml.core import bounds
from branchml.core.carry import pairs_of, sources_into
from branchml.core.changes import Change, CommitFacts
from branchml.core.lfs_pointer import MAX_POINTER_SIZE, parse_pointer
from branchml.core.rows import format_for
from branchml.core.rules import CarryCheck
from branchml.core.split import ASSIGNMENT
from branchml.ops.trusted import TrustedPolicy
from branchml.repo import lfs
from branchml.repo.reader import Git

BranchTips = Callable[[str], str | None]
Source = Callable[[], BinaryIO]


class _Unreadable(Exception):
    """An object a proof needs is not here (one sentence)."""


def carry_check(git: Git, trusted: TrustedPolicy, into: str,
                tips: BranchTips | None = None) -> CarryCheck:
    """The check for merges on `into`; `tips` gives each branch's tip as it will be after
    the push (else the local branch, or the remote's copy of it: a CI checkout)."""
    sources = sources_into(pairs_of(trusted.config), into)
    formats = dict(trusted.config.get("formats") or {})
    found: dict[tuple[str, str], tuple[str, str] | str] = {}

    def tip(branch: str) -> str | None:
        if tips is not None:
            return tips(branch)
        return git.resolve(f"refs/heads/{branch}") or git.resolve(f"refs/remotes/origin/{branch}")

    def where(commit: CommitFacts) -> tuple[str, str] | str:
        """(source, the last pull's point on the source's line) of a merge, or why it proves
        no removal."""
        for src in sources:
            at = tip(src)
            if at is not None and git.on_first_parent_chain(at, commit.merged):
                base = last_pull(git, commit.parent, commit.merged)
                return (src, base) if base else f"its parents share no history with {src}"
        return (f"its second parent {commit.merged[:10]} is not on the first-parent history of "
                f"{' or '.join(sources)}")

    def check(commit: CommitFacts, change: Change) -> str | None:
        if not sources or not commit.merged or not commit.parent:
            return ""
        key = (commit.parent, commit.merged)
        if key not in found:
            found[key] = where(commit)
        at = found[key]
        if isinstance(at, str):
            return at
        try:
            return _proven(git, change, at[0], at[1], commit.merged, formats)
        except _Unreadable as e:
            return str(e)

    return check


def last_pull(git: Git, ours: str, theirs: str) -> str | None:
    """The newest commit on `theirs`'s first-parent line that `ours` already holds: the
    source's state at the last pull. Never the plain merge base, which a merge of the
    destination into the source (a no-op on the source) makes a commit of the destination,
    whose rows and files the source never held (atk18b-01). None: no shared history."""
    new = git.out("rev-list", "--first-parent", theirs, f"^{ours}", "--", check=False).split()
    if not new:
        return theirs
    return git.resolve(f"{new[-1]}^1")


def base_is_last_pull(git: Git, ours: str, theirs: str) -> bool:
    """Whether the merge base a pull merges from (git's, or the merge driver's %O) is the
    source's state at the last pull: else the pull carries no removal, since rows removed
    "since the base" would not all be rows the source held and removed (atk18b-01)."""
    bases = git.out("merge-base", "--all", ours, theirs, check=False).split()
    return len(bases) == 1 and bases[0] == last_pull(git, ours, theirs)


def merging_now(git: Git) -> str | None:
    """The commit being merged: in pre-merge-commit git names it only in GITHEAD_<sha> (it
    writes MERGE_HEAD after the hook); a merge finished by `git commit` has MERGE_HEAD."""
    heads = [k.removeprefix("GITHEAD_") for k in os.environ if k.startswith("GITHEAD_")]
    if len(heads) == 1 and git.resolve(heads[0]) is not None:
        return git.resolve(heads[0])
    return git.resolve("MERGE_HEAD")


def _proven(git: Git, change: Change, src: str, base: str, theirs: str,
            formats: dict[str, str]) -> str | None:
    from branchml.core.removals import drop_rows, removed_rows  # row hashes: only when needed

    p = change.path
    if p == ASSIGNMENT:  # items never move: a split's assignment only grows
        return f"{p} is never removed or cut by a pull: a split's items never move"
    at_base, on_src = _blob(git, f"{base}:{p}"), _blob(git, f"{theirs}:{p}")
    if at_base is None:
        return f"{p} was not on {src} at the last pull ({base[:10]})"
    if change.status == "D":
        if on_src is not None:
            return f"{src} still holds {p} at {theirs[:10]}"
        if at_base != change.old_oid:
            return f"{p} was changed here since the last pull, so it is not removed whole"
        return None
    if _is_pointer(git, change.old_oid) != _is_pointer(git, change.new_oid):
        return "it moved between git-lfs and plain git storage"  # as the growth check says
    fmt = format_for(p, formats)
    if fmt is None or not fmt.streams:
        return f"{p} is not a row file (CSV, TSV, JSON lines, text), whose rows a pull carries"
    with ExitStack() as stack:
        old, new, b = (_opened(git, oid, stack, p) for oid in (change.old_oid, change.new_oid,
                                                             at_base))
        gone = removed_rows(fmt, old, new)
        cleaned = removed_rows(fmt, b, None if on_src is None else _opened(git, on_src, stack, p))
        unproven = gone - cleaned
        if unproven:
            first = next(iter(unproven)).decode("utf-8", "replace")[:60]
            return (f"{sum(unproven.values())} row(s) it removes were not removed on {src} "
                    f"since the last pull, such as {first!r}")
        with new() as stream:
            same = _PrefixOf(stream)
            drop_rows(fmt, old, gone, same)  # type: ignore[arg-type]  # only write() is used
            if not same.ok:
                return "its other rows were edited or moved: only new rows may follow them"
    return None


def _is_pointer(git: Git, oid: str) -> bool:
    """Whether a blob is a git-lfs pointer (what git checks out without the lfs filter is
    its text, so a switch either way changes every row of the branch's file)."""
    size = git.cat.size(oid)
    return (size is not None and size <= MAX_POINTER_SIZE
            and parse_pointer((git.cat.read(oid) or ("", b""))[1]) is not None)


def _blob(git: Git, spec: str) -> str | None:
    found = git.cat.info(spec)
    return found[0] if found is not None else None


def _opened(git: Git, oid: str, stack: ExitStack, path: str) -> Source:
    """A blob's content to be opened as often as needed: a git-lfs object in the store, or
    a plain blob copied once into a temp file under the git dir (removed with `stack`).
    Bounded (core/bounds.py): over CARRY_FILE by its size, before a byte is read; a row
    over CARRY_LINE is refused by its line number in the one pass that copies or scans it."""
    size = git.cat.size(oid)
    if size is None:
        raise _Unreadable(f"the object {oid[:10]} is not in this repository")
    pointer = (parse_pointer((git.cat.read(oid) or ("", b""))[1])
               if size <= MAX_POINTER_SIZE else None)
    _fits(pointer.size if pointer is not None else size, oid, path)
    if pointer is not None:
        found = lfs.object_file(git.layout.common_dir, pointer)
        if not found.is_file():
            raise _Unreadable(f"its git-lfs object {pointer.oid[:12]} is not in the LFS store "
                              f"({lfs.store(git.layout.common_dir).describe()})")
        with found.open("rb") as f:
            _short_rows(iter(lambda: f.read(1 << 20), b""), oid, path)
        return lambda: found.open("rb")
    import tempfile

    root = git.layout.common_dir / "branchml" / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=root, prefix="carry-")))
    copy = tmp / oid
    with copy.open("wb") as out:
        _short_rows(_copied(git.cat.stream(oid) or iter(()), out), oid, path)
    return lambda: copy.open("rb")


def _copied(chunks: Iterator[bytes], out: BinaryIO) -> Iterator[bytes]:
    for chunk in chunks:
        out.write(chunk)
        yield chunk


def _fits(size: int, oid: str, path: str) -> None:
    if size > bounds.CARRY_FILE:
        raise _Unreadable(f"its version {oid[:10]} of {path} holds {size:,} bytes, over the "
                          f"{bounds.human(bounds.CARRY_FILE)} the proof reads of a file")


def _short_rows(chunks: Iterator[bytes], oid: str, path: str) -> None:
    line = bounds.long_line(chunks, bounds.CARRY_LINE)
    if line is not None:  # refused where it is found: the rest is never read nor copied
        raise _Unreadable(f"row {line} of its version {oid[:10]} of {path} is over "
                          f"{bounds.human(bounds.CARRY_LINE)}, longer than the proof reads")


class _PrefixOf:
    """A writer that only compares: `ok` while every byte written is the next byte of
    `stream` (what is left of `stream` after that is new rows)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.ok = stream, True

    def write(self, data: bytes) -> int:
        if self.ok and self.stream.read(len(data)) != data:
            self.ok = False
        return len(data)
