"""Fault injection for the kill matrix (tests only): `BRANCHML_FAULT` stops the process with
SIGKILL at a named point of the write path, the way a power cut or `kill -9` would.

Points are reached only in the apply layer, the object store and the worktree updater:
`object` (after each object written), `install` (after each installer), `refs-before`,
`refs-locked` (inside the ref transaction: locks taken, nothing renamed), `refs-after`,
`worktree-before`, `worktree-inside` (git's read-tree has written the new files but not the
index: it writes the files first), `worktree-after`; and, only while a killed update is
being finished, `worktree-finish` (before its `read-tree --reset`). The variable holds
either N (die at the N-th point reached, counting from 1) or a point's name (die at its
first occurrence; `name:K` at its K-th). `BRANCHML_FAULT_TRACE=FILE` appends each point
reached to FILE, so a harness learns how many points a command has. Unset, each point costs
two lookups.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

_seen: dict[str, int] = {}
_count = [0]


def point(name: str, then: Callable[[], object] | None = None) -> None:
    """A place where a kill must leave the repository as before or as after; `then` runs
    just before the kill (to stop in the middle of something, e.g. git's read-tree)."""
    spec = os.environ.get("BRANCHML_FAULT")
    trace = os.environ.get("BRANCHML_FAULT_TRACE")
    if spec is None and trace is None:
        return
    _count[0] += 1
    _seen[name] = _seen.get(name, 0) + 1
    if trace:
        with open(trace, "a") as f:
            f.write(f"{_count[0]} {name}\n")
    if spec is not None and _matches(spec, name):
        if then is not None:
            then()
        os.kill(os.getpid(), signal.SIGKILL)


def _matches(spec: str, name: str) -> bool:
    if spec.isdigit():
        return int(spec) == _count[0]
    wanted, _, nth = spec.partition(":")
    return wanted == name and _seen[name] == (int(nth) if nth.isdigit() else 1)
