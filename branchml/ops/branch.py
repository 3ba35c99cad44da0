"""`branchml branch create`: a branch whose name matches a type, started from its parent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from branchml.core.names import check_branch_name
from branchml.core.plan import Plan, RefUpdate
from branchml.errors import StateError, UsageError
from branchml.ops.trusted import load_trusted, trusted_ref
from branchml.repo import apply, objectstore
from branchml.repo.reader import Git


@dataclass
class BranchReport:
    name: str
    parent: str
    sha: str
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def create(path: Path, name: str, from_ref: str | None = None,
           dry_run: bool = False) -> BranchReport:
    check_branch_name(name)
    if not dry_run:
        apply.prepare(objectstore.Repo(path))
    g = Git(path)
    policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
    bt = policy.branch_type(name)
    if bt is None:
        patterns = ", ".join(b.pattern for b in policy.branch_types)
        raise UsageError(f"{name!r} matches no branch type in branchml.yaml ({patterns}); "
                         "pick a name that matches one.")
    parent = policy.parent_branch(name)
    if parent is None:
        raise UsageError(f"{name} is the {bt.kind} branch; it has no parent to start from.")
    parent_sha = g.resolve(f"refs/heads/{parent}")
    if parent_sha is None:
        raise StateError(f"{name} starts from {parent}, which does not exist here: create or "
                         f"fetch {parent} first.")
    start = parent_sha
    if from_ref is not None:
        found = None if from_ref.startswith("-") else g.resolve(from_ref)
        if found is None:
            raise UsageError(f"--from {from_ref!r} is not a commit in this repository.")
        if not g.is_ancestor(found, parent_sha):
            raise UsageError(f"--from {from_ref} is not on {parent}: a {bt.pattern} branch "
                             f"starts from a commit of {parent}.")
        start = found
    if g.resolve(f"refs/heads/{name}") is not None:
        raise UsageError(f"branch {name} already exists.")
    g.close()
    report = BranchReport(name, parent, start, dry_run)
    if not dry_run:
        plan = Plan(f"branch create {name}", [RefUpdate(f"refs/heads/{name}", None, start)])
        apply.apply(objectstore.Repo(path), plan)
    return report
