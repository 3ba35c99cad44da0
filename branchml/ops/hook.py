"""`branchml hook NAME`: what the installed hooks run (hidden from --help)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from branchml.errors import UsageError
from branchml.ops.check import CheckResult, PushedRef, check_push, check_staged
from branchml.ops.trusted import main_branch_name, trusted_ref
from branchml.repo.reader import Git

# pre-merge-commit: git runs it once a merge is staged and before the merge commit is written,
# so the staged changes are the merge's net change to the branch, judged like a commit's.
# reference-transaction: the only hook git runs for a fast-forward `git merge` (the template
# calls branchml for a merge's branch update only, in the `prepared` state, before the move).
HOOKS = ("pre-commit", "pre-merge-commit", "pre-push", "pre-receive", "reference-transaction")
RESET_HINT = ("  git has already updated the working tree and index: `git reset --merge` puts "
              "them back (local changes are kept).\n")


def run_hook(name: str, args: Sequence[str], stdin: TextIO, path: Path = Path(".")) -> int:
    if name not in HOOKS:
        raise UsageError(f"unknown hook {name!r}; branchml runs {', '.join(HOOKS)}.")
    g = Git(path)
    try:
        if name in ("pre-commit", "pre-merge-commit"):
            result = check_staged(g)
        elif name == "pre-push":
            remote = args[0] if args else "origin"
            updates = [PushedRef(r, old, new) for _, new, r, old in _lines(stdin, 4)]
            main = main_branch_name(g)
            result = check_push(g, updates, [f"--remotes={remote}"],
                                [f"refs/remotes/{remote}/{main}", trusted_ref(g)])
        elif name == "pre-receive":
            updates = [PushedRef(r, old, new) for old, new, r in _lines(stdin, 3)]
            result = check_push(g, updates, ["--all"], [trusted_ref(g)])
        else:
            if list(args[:1]) != ["prepared"]:
                return 0
            result = check_push(g, _fast_forwards(g, _lines(stdin, 3)), [], [trusted_ref(g)])
    finally:
        g.close()
    return report(result, name)


def _fast_forwards(g: Git, rows: list[list[str]]) -> list[PushedRef]:
    """The branch moves of a `git merge` not already judged: a merge commit went through
    pre-merge-commit (or was skipped with --no-verify), so only a fast-forward is left."""
    moves = []
    for old, new, ref in rows:
        if not ref.startswith("refs/heads/") or old == new or {"0"} in (set(old), set(new)):
            continue
        if g.resolve(f"{new}^2") is None:
            moves.append(PushedRef(ref, old, new))
    return moves


def _lines(stdin: TextIO, width: int) -> list[list[str]]:
    rows = [line.split() for line in stdin.read().splitlines() if line.strip()]
    bad = [r for r in rows if len(r) != width]
    if bad:
        raise UsageError(f"hook input line {' '.join(bad[0])!r} is not what git sends.")
    return rows


def report(result: CheckResult, hook: str) -> int:
    if result.ok:
        return 0
    what = {"pre-commit": "commit", "pre-merge-commit": "merge",
            "reference-transaction": "merge"}.get(hook, "push")
    err = sys.stderr
    n = len(result.violations)
    err.write(f"branchml: {what} rejected: {n} violation{'s' * (n != 1)} of the policy "
              f"({result.policy_source})\n")
    for v in result.violations:
        where = f"commit {v.commit[:10]}: " if v.commit else ""
        err.write(f"  {v.branch}: {where}{v.message}\n")
    if hook == "reference-transaction":
        err.write(RESET_HINT)
    return 1
