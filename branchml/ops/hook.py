"""`branchml hook NAME`: what the installed hooks run (hidden from --help)."""

from __future__ import annotations

import hmac
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from branchml.core.tally import tally_lines
from branchml.errors import UsageError
from branchml.ops.check import CheckResult, check_staged
from branchml.ops.push_check import PushedRef, RefView, check_push
from branchml.ops.trusted import judging, main_branch_name, trusted_ref
from branchml.repo.reader import Git

# pre-merge-commit: git runs it once a merge is staged and before the merge commit is written,
# so the staged changes are the merge's net change to the branch, judged like a commit's.
# reference-transaction: the only hook git runs for a fast-forward `git merge` (the template
# calls branchml for a merge's branch update only, in the `prepared` state, before the move).
HOOKS = ("pre-commit", "pre-merge-commit", "pre-push", "pre-receive", "reference-transaction")
# where a refusal too long to print is seen whole (the hooks have no --json)
_RANGE = " (`branchml check --range OLD..NEW --branch NAME --json` lists them all)"
MORE_HINT = {"pre-commit": " (`branchml check --staged --json` lists them all)",
             "pre-push": _RANGE, "pre-receive": _RANGE}
RESET_HINT = ("  git has already updated the working tree and index: `git reset --merge` puts "
              "them back (local changes are kept).\n")


@judging()  # an invalid trusted config gets the repair policy here, not an error
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
            if _judged_already(remote, updates):
                return 0
            main = main_branch_name(g)
            result = check_push(g, updates, RefView(_remote_view(g, remote), updates),
                                [f"refs/remotes/{remote}/{main}", trusted_ref(g)])
        elif name == "pre-receive":
            updates = [PushedRef(r, old, new) for old, new, r in _lines(stdin, 3)]
            result = check_push(g, updates, RefView(g.refs("refs/"), updates),
                                [trusted_ref(g)])
        else:
            if list(args[:1]) != ["prepared"]:
                return 0
            moves = _fast_forwards(g, _lines(stdin, 3))
            result = check_push(g, moves, RefView(g.refs("refs/heads/"), moves),
                                [trusted_ref(g)], lfs_objects=False)
    finally:
        g.close()
    return report(result, name)


def _judged_already(remote: str, updates: list[PushedRef]) -> bool:
    """`branchml push` judged exactly these updates (same remote, refs, old and new values)
    with the remote's live refs a moment ago, then started this `git push`: judging them
    again would change nothing. Only the same updates are skipped; the server judges all."""
    digest = os.environ.get("BRANCHML_PUSH_JUDGED")
    if not digest:
        return False
    from branchml.ops.push import judged_digest

    return hmac.compare_digest(digest, judged_digest(remote, updates))


def _remote_view(g: Git, remote: str) -> dict[str, str]:
    """The remote's refs as this clone last saw them: its branches from the tracking refs;
    tags and deploy refs from the local ones (what a fetch brought)."""
    prefix = f"refs/remotes/{remote}/"
    view = {f"refs/heads/{r.removeprefix(prefix)}": s for r, s in g.refs(prefix).items()
            if r != f"{prefix}HEAD"}
    return {**g.refs("refs/tags/"), **g.refs("refs/deploy/"), **view}


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
    for line in tally_lines(result.violations, MORE_HINT.get(hook, "")):
        err.write(f"  {line}\n")
    if hook == "reference-transaction":
        err.write(RESET_HINT)
    return 1
