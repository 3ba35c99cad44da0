"""The one error family. Each subclass carries the exit code DESIGN.md section 6 documents."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    VERDICT = 1  # policy violation, failed check
    USAGE = 2  # bad option, bad config, bad name
    CONFLICT = 3  # nothing was changed
    STATE = 4  # not a repo, dirty worktree, lock held, git-lfs missing
    INTERRUPTED = 130
    INTERNAL = 70  # a bug


class BranchmlError(Exception):
    """Base of every error branchml reports to a user: one sentence, one exit code."""

    exit_code: ExitCode = ExitCode.INTERNAL


class VerdictError(BranchmlError):
    exit_code = ExitCode.VERDICT


class UndoRefused(VerdictError):
    """`branchml undo` would not take the write back (a ref moved since, uncommitted changes,
    the write is pushed, killed midway, or the remote cannot be asked): nothing changed."""


class UsageError(BranchmlError):
    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """branchml.yaml (or a file given for validation) is not a valid config."""


class InvalidName(UsageError):
    """A branch, client, tag or path name that must not reach git."""


class ConflictError(BranchmlError):
    exit_code = ExitCode.CONFLICT


class StateError(BranchmlError):
    exit_code = ExitCode.STATE


class NotARepository(StateError):
    pass


class DirtyWorktree(StateError):
    pass


class LockHeld(StateError):
    pass


class ToolMissing(StateError):
    """An external tool (git-lfs, git) that the command needs is not on PATH."""


class StaleRef(StateError):
    """A ref moved between reading it and updating it (compare-and-swap failed)."""
