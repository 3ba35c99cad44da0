"""What `branchml undo` agrees to write back: only what branchml itself writes.

The operation log lives in .git like .git/config and .git/hooks: whoever can write it can
already write a hook, so it cannot be made unforgeable. What undo can do is never turn a log
line into something branchml never writes: a branch or a deploy ref set to a commit only, a
ref only in the namespaces branchml moves, a hook only back to branchml's own hook text, a git
config key only to a value of the form branchml writes there. Anything else is refused
(StateError, exit 4) before anything is changed.
"""

from __future__ import annotations

import os
from typing import Any

from branchml.core.names import ref_name_problem
from branchml.errors import StateError
from branchml.repo import hooks, objectstore

# the namespaces undo moves refs back in; refs/remotes/* (what sync and clone fetched) is the
# remote's state, which the next fetch brings again: undo never writes it
WRITES = ("refs/heads/", "refs/tags/", "refs/deploy/", "refs/branchml/")
SKIPPED = "refs/remotes/"
# what `git lfs install --local` writes: the only values undo sets these keys back to
LFS_VALUES = {"filter.lfs.clean": {"git-lfs clean -- %f"},
              "filter.lfs.smudge": {"git-lfs smudge -- %f"},
              "filter.lfs.process": {"git-lfs filter-process"},
              "filter.lfs.required": {"true"}, "lfs.repositoryformatversion": {"0"}}


def ref_target_problem(repo: objectstore.Repo, ref: str, old: str | None) -> str | None:
    """Why undo must not set `ref` back to `old` (None: it may)."""
    if not ref.startswith(WRITES):
        return f"the operation log moves {ref[:80]}, a ref branchml never writes"
    if old is None:
        return None
    found = repo.pg.get(old)
    if found is None:
        return None  # undo.ref_back says it is missing (pruned?), in its own words
    kind = found.type_str
    if ref.startswith(("refs/heads/", "refs/deploy/")) and kind != "commit":
        return f"the operation log would set {ref[:80]} to a {kind} ({old[:7]}), not a " \
            "commit, which branchml never writes there"
    if ref.startswith("refs/tags/") and kind not in ("commit", "tag"):
        return f"the operation log would set {ref[:80]} to a {kind} ({old[:7]}), which " \
            "branchml never writes there"
    return None


def refuse(what: str) -> StateError:
    return StateError(f"{what}: undo refuses and changed nothing (the log may have been "
                      "edited by hand; see docs/undo.md).")


def config_value_ok(repo: objectstore.Repo, key: str, value: str) -> bool:
    """Whether `value` is of the form branchml writes for `key`."""
    if key in LFS_VALUES:
        return value in LFS_VALUES[key]
    if key == "branchml.trustedRef" or (key.startswith("branch.") and key.endswith(".merge")):
        return _branch_ref(value)
    if key.startswith("branch.") and key.endswith(".remote"):
        return value in {str(r.name) for r in repo.pg.remotes}
    if key == "receive.fsckObjects":
        return value in ("true", "false")
    if key == "lfs.storage":
        return os.path.isabs(value) and os.path.isdir(value) and "\n" not in value
    if key.startswith("merge.branchml-") and key.endswith(".name"):
        return value.isprintable() and len(value) <= 200
    if key.startswith("merge.branchml-") and key.endswith(".driver"):
        name = key.removeprefix("merge.branchml-").removesuffix(".driver")
        return value == f"branchml merge-driver {name} %O %A %B %P" and name.isalpha()
    return False


def _branch_ref(value: str) -> bool:
    return value.startswith("refs/heads/") and ref_name_problem(value.removeprefix("refs/")) \
        is None


def hook_text_ok(name: str, text: str) -> bool:
    """Whether `text` is branchml's own hook for `name`: every line that is not a comment or
    blank is a line of the hook branchml renders (for any of its switches), so no command
    branchml never writes can come back (a comment the user added may)."""
    base = name.removesuffix(".legacy")
    if hooks.MARKER not in text:
        return False
    known: set[str] = set()
    for self_name in (base, f"{base}.legacy"):
        for bml in (True, False):
            for lfs in (True, False):
                known.update(hooks.render(base, bml, lfs, self_name).splitlines())
    first = hooks.render(base, True, True).splitlines()[0]
    if text.splitlines()[:1] != [first]:  # the #! line runs: it must be branchml's
        return False
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return all(ln in known for ln in lines)


def blob_text(repo: objectstore.Repo, blob_id: str) -> str | None:
    blob = repo.pg.get(blob_id)
    if blob is None or blob.type_str != "blob":
        return None
    try:
        return bytes(blob.data).decode()
    except UnicodeDecodeError:
        return None


def mode_of(c: dict[str, Any], key: str) -> int | None:
    value = c.get(key)
    return value if isinstance(value, int) and 0 <= value <= 0o777 else None
