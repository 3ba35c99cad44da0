"""Facts about a change, as the checker receives them from git (no git here)."""

from __future__ import annotations

from typing import Any, NamedTuple


class Change(NamedTuple):
    """One path changed by one commit against its first parent (renames split into D + A).
    A NamedTuple: the checker builds one per changed path, 100,000s in a long range."""

    status: str  # "A", "M", "D" or "T"
    path: str
    old_oid: str
    new_oid: str
    old_mode: str = "100644"
    new_mode: str = "100644"


class CommitFacts(NamedTuple):
    sha: str  # "" for staged changes that are not a commit yet
    subject: str
    changes: tuple[Change, ...]
    promoted_from: str = ""  # the `Promoted-From: <branch> <sha>` trailer, if any
    parent: str = ""  # the first parent ("" for a root commit or staged changes)
    merged: str = ""  # the second parent of a two-parent merge (staged: MERGE_HEAD), else ""


class Growth(NamedTuple):
    """Whether a modified file only grew at its end; `reason` says why not or why unknown."""

    grows: bool
    reason: str = ""


class Violation(NamedTuple):
    rule: str
    message: str
    commit: str = ""
    path: str = ""
    branch: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "message": self.message,
            "commit": self.commit,
            "path": self.path,
            "branch": self.branch,
        }
