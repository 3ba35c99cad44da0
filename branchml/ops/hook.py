"""`branchml hook NAME`: what the installed hooks run (hidden from --help)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from branchml.errors import UsageError
from branchml.ops.check import CheckResult, check_staged
from branchml.ops.push_check import PushedRef, RefView, check_push
from branchml.ops.trusted import main_branch_name, trusted_ref
from branchml.repo.reader import Git

HOOKS = ("pre-commit", "pre-push", "pre-receive")


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
            result = check_push(g, updates, RefView(_remote_view(g, remote), updates),
                                [f"refs/remotes/{remote}/{main}", trusted_ref(g)])
        else:
            updates = [PushedRef(r, old, new) for old, new, r in _lines(stdin, 3)]
            result = check_push(g, updates, RefView(g.refs("refs/"), updates),
                                [trusted_ref(g)])
    finally:
        g.close()
    return report(result, name)


def _remote_view(g: Git, remote: str) -> dict[str, str]:
    """The remote's refs as this clone last saw them: its branches from the tracking refs;
    tags and deploy refs from the local ones (what a fetch brought)."""
    prefix = f"refs/remotes/{remote}/"
    view = {f"refs/heads/{r.removeprefix(prefix)}": s for r, s in g.refs(prefix).items()
            if r != f"{prefix}HEAD"}
    return {**g.refs("refs/tags/"), **g.refs("refs/deploy/"), **view}


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
