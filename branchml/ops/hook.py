"""`branchml hook NAME`: what the installed hooks run (hidden from --help)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from branchml.errors import UsageError
from branchml.ops.check import CheckResult, PushedRef, check_push, check_staged
from branchml.ops.trusted import judging, main_branch_name, trusted_ref
from branchml.repo.reader import Git

HOOKS = ("pre-commit", "pre-push", "pre-receive")


@judging()  # an invalid trusted config gets the repair policy here, not an error
def run_hook(name: str, args: Sequence[str], stdin: TextIO, path: Path = Path(".")) -> int:
    if name not in HOOKS:
        raise UsageError(f"unknown hook {name!r}; branchml runs {', '.join(HOOKS)}.")
    g = Git(path)
    try:
        if name == "pre-commit":
            result = check_staged(g)
        elif name == "pre-push":
            remote = args[0] if args else "origin"
            updates = [PushedRef(r, old, new) for _, new, r, old in _lines(stdin, 4)]
            main = main_branch_name(g)
            result = check_push(g, updates, [f"--remotes={remote}"],
                                [f"refs/remotes/{remote}/{main}", trusted_ref(g)])
        else:
            updates = [PushedRef(r, old, new) for old, new, r in _lines(stdin, 3)]
            result = check_push(g, updates, ["--all"], [trusted_ref(g)])
    finally:
        g.close()
    return report(result, name)


def _lines(stdin: TextIO, width: int) -> list[list[str]]:
    rows = [line.split() for line in stdin.read().splitlines() if line.strip()]
    bad = [r for r in rows if len(r) != width]
    if bad:
        raise UsageError(f"hook input line {' '.join(bad[0])!r} is not what git sends.")
    return rows


def report(result: CheckResult, hook: str) -> int:
    if result.ok:
        return 0
    what = "commit" if hook == "pre-commit" else "push"
    err = sys.stderr
    n = len(result.violations)
    err.write(f"branchml: {what} rejected: {n} violation{'s' * (n != 1)} of the policy "
              f"({result.policy_source})\n")
    for v in result.violations:
        where = f"commit {v.commit[:10]}: " if v.commit else ""
        err.write(f"  {v.branch}: {where}{v.message}\n")
    return 1
