"""What `branchml undo` put back, in words rather than object ids: "acme runs acme-v1
again", "raw is back at abc1234 (the commit before `branchml pull raw clean`)", "tag
acme-v2 is deleted"."""

from __future__ import annotations

from typing import Any

from branchml.ops.undolog import Op
from branchml.repo import objectstore


def said(repo: objectstore.Repo, op: Op) -> list[str]:
    return [_ref_words(repo, op, c) for c in op.changes if c["kind"] == "ref"]


def _ref_words(repo: objectstore.Repo, op: Op, c: dict[str, Any]) -> str:
    ref, old = str(c["ref"]), c["old"]
    if ref.startswith("refs/deploy/"):
        client = ref.removeprefix("refs/deploy/")
        if old is None:
            return f"{client} has no deployment record again (it had none before)"
        return f"{client} runs {_primary(repo, old) or old[:7]} again"
    if ref.startswith("refs/tags/"):
        name = ref.removeprefix("refs/tags/")
        return f"tag {name} is deleted" if old is None else f"tag {name} is back at {old[:7]}"
    name = ref.removeprefix("refs/heads/")
    if old is None:
        return f"branch {name} is deleted (`branchml {op.command}` made it)"
    return f"{name} is back at {old[:7]} (the commit before `branchml {op.command}`)"


def _primary(repo: objectstore.Repo, commit: str) -> str | None:
    """The release a deployment record routes to (its `primary:` line)."""
    try:
        routing = repo.read_file(commit, "deploy.yaml")
    except (KeyError, ValueError):
        return None
    for line in (routing or b"").decode(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "primary" and value.strip():
            return value.strip()
    return None
