"""`branchml status`: every branch with its type, head and what may change on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.errors import LockHeld
from branchml.ops.check import check_staged
from branchml.ops.trusted import load_trusted, trusted_ref
from branchml.repo import objectstore, pending, proc, recovery
from branchml.repo.reader import Git


@dataclass
class BranchStatus:
    name: str
    head: str
    type: str  # pattern of its branch type, or "" when none matches
    kind: str
    protected: bool
    may_change: dict[str, list[str]]


@dataclass
class StatusReport:
    policy: str
    current: str | None
    branches: list[BranchStatus] = field(default_factory=list)
    next_commit: dict[str, list[str]] = field(default_factory=dict)
    staged_violations: list[dict[str, Any]] = field(default_factory=list)
    recovered: str | None = None  # what finishing a killed write did, in one sentence

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "current": self.current,
            "branches": [b.__dict__ for b in self.branches],
            "next_commit": self.next_commit,
            "staged_violations": self.staged_violations,
            "recovered": self.recovered,
        }


def _finish_killed_run(path: Path) -> str | None:
    """A write killed midway is finished first (through the CLI, main.py has done it already
    and said so); a live one (it holds the lock) is left to finish."""
    if not pending.pending(path):
        return None
    try:
        return recovery.finish_pending(objectstore.Repo(path))
    except LockHeld:
        return None


def status(path: Path) -> StatusReport:
    g = Git(path)
    _ = g.layout  # "not a repository" in one sentence, before any git command speaks
    recovered = _finish_killed_run(path)
    trusted = load_trusted(g, [trusted_ref(g), "HEAD"])
    current = g.current_branch()
    report = StatusReport(trusted.source, current, recovered=recovered)
    lines = proc.output(["git", "for-each-ref", "--format=%(refname:short) %(objectname)",
                         "refs/heads/"], cwd=path)
    for line in lines.splitlines():
        name, sha = line.rsplit(" ", 1)
        bt = trusted.policy.branch_type(name)
        report.branches.append(BranchStatus(
            name, sha[:10], bt.pattern if bt else "", str(bt.kind) if bt else "",
            bool(bt and bt.protected), bt.summary() if bt else {},
        ))
        if name == current and bt is not None:
            report.next_commit = bt.summary()
    if current is not None and g.layout.toplevel is not None:
        report.staged_violations = [v.to_dict() for v in check_staged(g).violations]
    g.close()
    return report
