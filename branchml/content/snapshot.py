"""What a commit holds, per path class, from one `git ls-tree`: the facts behind promotion
checks and release manifests."""

from __future__ import annotations

import hashlib
from collections import defaultdict

from branchml.core.model import PathClass
from branchml.core.policy import Policy
from branchml.repo.reader import Git

Entry = tuple[str, str, str]  # mode, object id, path


def by_class(git: Git, policy: Policy, commit: str) -> dict[PathClass, list[Entry]]:
    out: dict[PathClass, list[Entry]] = defaultdict(list)
    for entry in git.ls_tree(commit):
        out[policy.classify(entry[2])].append(entry)
    return out


def digest(entries: list[Entry]) -> str:
    """A content id of a set of files: sha256 over their sorted "mode oid path" lines."""
    h = hashlib.sha256()
    for mode, oid, path in sorted(entries, key=lambda e: e[2]):
        h.update(f"{mode} {oid} {path}\n".encode("utf-8", errors="surrogateescape"))
    return h.hexdigest()


def code_digest(git: Git, policy: Policy, commit: str) -> str:
    return digest(by_class(git, policy, commit).get(PathClass.CODE, []))
