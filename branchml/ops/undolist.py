"""`branchml undo --list`: the operation log newest first, and whether each write can be
undone now (the newest write that `branchml undo` would take back is tried, read only)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from branchml.errors import BranchmlError
from branchml.ops import undolog
from branchml.ops.undo import plain_steps, short, target
from branchml.repo import objectstore, oplog

# --list tries nothing, so a refusal's "changed nothing" tail does not belong in its reason
_NOTHING_TRIED = re.compile(r"[:;,]? (?:undo refuse[sd] and changed nothing|nothing was changed)"
                            r"(?=[;:.,]|$)")


def listing(path: Path, limit: int = 20) -> list[dict[str, Any]]:
    repo = objectstore.Repo(path)
    ops = undolog.read_ops(oplog.log_path(repo.common_dir))
    nxt, why = _next(repo, ops)
    rows = []
    for op in reversed(ops[-limit:] if limit > 0 else ops):
        if op is nxt:
            can, reason = why is None, why
        else:
            can, reason = False, _reason(op, nxt)
        # a hand-made line can hold megabytes: the list shows the start of each field
        rows.append({"op": op.op, "time": _cut(op.time), "command": _cut(op.command),
                     "argv": [_cut(a) for a in op.argv[:40]],
                     "state": op.state, "moves": moves(op), "undoable": can,
                     "why_not": reason and _cut(reason, 600)})
    return rows


def _next(repo: objectstore.Repo, ops: list[undolog.Op]) -> tuple[undolog.Op | None, str | None]:
    """The write `undo` takes back next, and why it cannot now (None: it can)."""
    try:
        op = target(ops, repo)
    except BranchmlError as e:
        return None, _NOTHING_TRIED.sub("", str(e))
    if op is None:
        return None, None
    try:
        plain_steps(repo, op)
    except BranchmlError as e:
        return op, _NOTHING_TRIED.sub("", str(e))
    return op, None


def _reason(op: undolog.Op, nxt: undolog.Op | None) -> str | None:
    """Why `op` is not next (None: only that newer writes come first, said once in the
    listing's header)."""
    if op.is_undo:
        return f"it is the undo of {op.undoes}"
    if op.state == "undone":
        return "undone already"
    if op.state.startswith("killed midway"):
        return "it was killed midway"
    if op.state == "failed (put back)":
        return "its push was refused and its local change was put back at once"
    if op.state == "failed" and not op.changes:
        return "it changed nothing"
    return None if nxt is not None else "the newer write before it cannot be undone now"


def moves(op: undolog.Op) -> list[str]:
    """`op`'s moves in words: ref old -> new (short ids), config and hook changes."""
    out = []
    for c in op.changes:
        if c["kind"] == "ref":
            out.append(f"{short(c['ref'])} {_id(c['old'])} -> {_id(c['new'])}")
        elif c["kind"] == "config":
            out.append(f"git config {c['key']} {c.get('old')!r} -> {c.get('new')!r}")
        elif c["kind"] == "hook":
            out.append(f"hook {Path(str(c.get('path'))).name} {c.get('action', '')}".rstrip())
        elif c["kind"] == "lfs":
            out.append("git-lfs filters installed")
        elif c["kind"] == "worktree":
            out.append(f"files of {c.get('branch')} updated")
    return out


def _id(value: str | None) -> str:
    return value[:7] if value else "(none)"


def _cut(text: str, most: int = 200) -> str:
    return text if len(text) <= most else text[:most] + f"... ({len(text)} characters)"
