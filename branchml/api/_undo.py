"""The library surface for `branchml undo` (re-exported by `branchml.api`). Never prints."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

__all__ = ["UndoEntry", "UndoResult", "undo", "undo_list"]


class UndoResult(TypedDict):
    """The write taken back (`op` None: nothing to undo), its command, the steps that put it
    back, what `--revert` could not take back (`kept`), and whether it was a dry run."""

    op: str | None
    command: str
    restored: list[str]
    said: list[str]  # what came back, in words ("acme runs acme-v1 again")
    kept: list[str]
    dry_run: bool
    revert: bool


class UndoEntry(TypedDict):
    """One write of the operation log: id, time, command and argv, state (done, undone,
    failed, killed midway), its moves in words, and whether `undo` can take it back now."""

    op: str
    time: str
    command: str
    argv: list[str]
    state: str
    moves: list[str]
    undoable: bool
    why_not: str | None


def undo(path: str | Path = ".", dry_run: bool = False, revert: bool = False) -> UndoResult:
    """Take back the newest branchml write not undone yet (see docs/undo.md). Raises
    UndoRefused (a VerdictError, exit 1), changing nothing, when something it moved has
    moved since, the files it would rewrite hold uncommitted changes, it was killed midway,
    or (without `revert`) it is pushed already or a remote cannot be asked."""
    from branchml.ops.undo import undo as run

    r = run(Path(path), dry_run, revert)
    return UndoResult(op=r.op, command=r.command, restored=r.restored, said=r.said, kept=r.kept,
                      dry_run=r.dry_run, revert=r.revert)


def undo_list(path: str | Path = ".", limit: int = 20) -> list[UndoEntry]:
    """The operation log newest first (at most `limit` writes; 0: all)."""
    from branchml.ops.undolist import listing

    return [UndoEntry(**row) for row in listing(Path(path), limit)]  # type: ignore[typeddict-item]
