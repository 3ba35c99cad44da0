"""`branchml undo --revert`: take back a write that is pushed already with NEW commits, never
rewriting a remote (the user pushes them as any other change).

Per ref the write moved: one it did not push comes back as plain undo does; a pushed branch
gets a revert commit (the tree it had before the write, on top of what the write left),
judged by the rules the server's pre-receive applies to that branch, refused naming the rule
when they forbid it (an append-only branch cannot lose rows); a pushed deploy ref moves
FORWARD to a new deployment record of what ran before (as `rollback` does); a pushed release
tag stays, and the report says so.
"""

from __future__ import annotations

from typing import Any

from branchml.core.plan import RefUpdate, Step
from branchml.errors import UndoRefused
from branchml.ops.undo import (
    checkout_steps,
    installer_steps,
    pushed_to,
    ref_back,
    ref_changes,
    short,
)
from branchml.ops.undolog import Op
from branchml.repo import objectstore
from branchml.repo.reader import Git


def revert_steps(repo: objectstore.Repo, op: Op) -> tuple[list[Step], list[str]]:
    """The steps, and what cannot be taken back (in words)."""
    moves: list[RefUpdate] = []
    kept: list[str] = []
    for c in ref_changes(repo, op):
        back = ref_back(repo, op, c)  # refuses when the ref moved since
        where = pushed_to(repo, c["ref"], c["new"])
        if where is None:
            moves.append(back)
        elif c["ref"].startswith("refs/tags/"):
            kept.append(f"release {short(c['ref'])} is on {where} and stays: a pushed "
                        "release is never taken back")
        elif c["old"] is None:
            kept.append(f"{short(c['ref'])} was made by `branchml {op.command}` and is on "
                        f"{where}: it stays (delete it there yourself if it must go)")
        elif c["ref"].startswith("refs/deploy/"):
            moves.append(RefUpdate(c["ref"], c["new"], _redeploy(repo, op, c), "(forward)"))
        elif c["ref"].startswith("refs/heads/"):
            moves.append(RefUpdate(c["ref"], c["new"], _revert_commit(repo, op, c),
                                   "(revert)"))
        else:
            kept.append(f"{c['ref']} is on {where} and has no revert: it stays")
    return installer_steps(repo, op) + moves + checkout_steps(repo, moves), kept


def _revert_commit(repo: objectstore.Repo, op: Op, c: dict[str, Any]) -> str:
    """A commit on top of what the write left, holding the tree from before it, if the
    branch's rules allow it."""
    before = repo.pg.get(c["old"])
    message = (f"Revert `branchml {op.command}`\n\nTakes back operation {op.op}: the files "
               f"as they were at {c['old'][:10]}.\n\nBranchml-Undo: {op.op}\n")
    made = repo.commit_tree(before.tree.id, [c["new"]], message)
    g = Git(repo.root or repo.common_dir)
    try:
        from branchml.ops.ci import check_ref

        judged = check_ref(g, c["ref"], c["new"], made)
    finally:
        g.close()
    if not judged.ok:
        rule = judged.violations[0]
        raise UndoRefused(
            f"--revert cannot take back `branchml {op.command}` on {short(c['ref'])}: the "
            f"rule {rule.rule} forbids the revert commit ({rule.message.rstrip('.')}); nothing "
            "was changed.")
    return made


def _redeploy(repo: objectstore.Repo, op: Op, c: dict[str, Any]) -> str:
    """A new deployment record, child of the one the write left, routing as before it."""
    before = repo.pg.get(c["old"])
    routing = repo.read_file(c["old"], "deploy.yaml")
    if before is None or routing is None:
        raise UndoRefused(f"{short(c['ref'])} was at {c['old'][:7]} before `branchml "
                           f"{op.command}`, which is not a deployment record here: --revert "
                           "refuses and changed nothing.")
    head, _, rest = str(before.message).partition(" ")
    message = f"rollback {rest}" if head in ("deploy", "rollback") else str(before.message)
    return repo.commit_files(None, {"deploy.yaml": routing}, message, False, [c["new"]])
