"""`monitor check`'s user checks: `monitoring/checks/*.py` of main's tree at the trusted ref.

Never from the monitoring branch: whoever may log data there (a production job) must not get
code run on every machine that runs the check. Read as git blobs, never as git-lfs pointers.
"""

from __future__ import annotations

from typing import Any

from branchml.core import drift
from branchml.core.lfs_pointer import parse_pointer
from branchml.errors import StateError
from branchml.ops.trusted import trusted_ref
from branchml.repo import proc
from branchml.repo.reader import Git

CHECKS = "monitoring/checks"


def user_checks(g: Git, trackers: dict[str, Any]) -> list[str]:
    """Each `monitoring/checks/*.py` of main's tree at the trusted ref may define
    `check(train, monitored)` returning alert strings; `train` maps a feature to its training
    values, `monitored` to a uniform seeded sample of its monitored values over every row.
    Never from the monitoring branch: whoever may log data there must not get code run on
    every machine that runs the check."""
    out: list[str] = []
    train = {n: t.train for n, t in trackers.items() if isinstance(t, drift.NumericFeature)}
    # a uniform sample of at most drift.SAMPLE values over every monitored row, seeded
    seen = {n: t.reservoir.sample() for n, t in trackers.items()
            if isinstance(t, drift.NumericFeature)}
    for name, code in _trusted_checks(g):
        namespace: dict[str, Any] = {}
        exec(compile(code, f"{CHECKS}/{name}", "exec"), namespace)  # noqa: S102 - main's code
        fn = namespace.get("check")
        if callable(fn):
            out.extend(f"{name}: {a}" for a in (fn(train, seen) or []))
    return out


def _trusted_checks(g: Git) -> list[tuple[str, bytes]]:
    """(file name, content) of the checks in main's tree at the trusted ref, read as git
    blobs; one stored in git-lfs is refused rather than run or fetched."""
    ref = trusted_ref(g)
    sha = g.resolve(ref)
    if sha is None:
        return []
    listing = proc.run(["git", "ls-tree", "-z", sha, "--", f"{CHECKS}/"], cwd=g.cwd).stdout
    out: list[tuple[str, bytes]] = []
    for entry in listing.split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        name = path.decode("utf-8", errors="replace").rsplit("/", 1)[-1]
        if not meta.startswith((b"100644 blob ", b"100755 blob ")) or not name.endswith(".py"):
            continue  # links, folders and other files are not checks
        found = g.cat.read(meta.split(b" ")[2].decode())
        code = found[1] if found else b""
        if parse_pointer(code) is not None:
            raise StateError(f"{CHECKS}/{name} on {ref} is stored in git-lfs, so it cannot run: "
                             f"add `{CHECKS}/** !filter !diff !merge !text` to .gitattributes "
                             "on main and commit the check again.")
        out.append((name, code))
    return out
