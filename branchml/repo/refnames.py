"""Ref names for shell completion: one bounded `git for-each-ref`, nothing else read."""

from __future__ import annotations

from pathlib import Path

from branchml.errors import BranchmlError
from branchml.repo import proc

LIMIT = 2000  # refs read per namespace: a Tab press stays fast in a repository of any size


def ref_names(cwd: str | Path, namespace: str, limit: int = LIMIT) -> list[str]:
    """The names under `namespace` ("refs/heads/", "refs/tags/", "refs/deploy/") without
    it, sorted; [] outside a repository or when git fails (a completion never errors)."""
    try:
        out = proc.output(["git", "for-each-ref", f"--count={limit}", "--format=%(refname)",
                           namespace], cwd=cwd)
    except (BranchmlError, OSError):  # not a repository, no git, a folder that is gone
        return []
    return [line[len(namespace):] for line in out.splitlines() if line.startswith(namespace)]
