"""Every sentence the checker says to a user, in one place."""

from __future__ import annotations

from collections.abc import Iterable

from branchml.core.model import BranchKind, Op, PathClass
from branchml.core.policy import BranchType

_HOME = {
    PathClass.CODE: "a dev/* branch",
    PathClass.DATA: "raw (then `branchml pull`)",
    PathClass.MODELS: "a stable/* branch",
    PathClass.TRACKING: "a stable/* branch (then `branchml track`)",
    PathClass.DOCS: "main",
    PathClass.CONFIG: "main",
}


def _home(cls: PathClass, main: str) -> str:
    return main if _HOME[cls] == "main" else _HOME[cls]


def class_not_allowed(branch: str, bt: BranchType, cls: PathClass, path: str,
                      main: str = "main") -> str:
    """`main`: the trusted main branch's name (master in a `--main master` repository)."""
    if bt.kind is BranchKind.MAIN:  # the branch itself
        return f"{branch} takes no {cls}: commit {path} on {_home(cls, main)} instead"
    allowed = ", ".join(str(c) for c in bt.may_change) or "nothing"
    return (
        f"{cls} does not belong on {branch} (a {bt.kind} branch changes only {allowed}): "
        f"commit {path} on {_home(cls, main)} instead"
    )


def promotion_only(branch: str, cls: PathClass, path: str, why: str = "") -> str:
    detail = f" ({why})" if why else ""
    return (
        f"{cls} on {branch} changes only by promotion{detail}: change {path} on a dev/* branch "
        f"and run `branchml promote dev/<name> {branch}`"
    )


def append_only(branch: str, cls: PathClass, op: Op, path: str) -> str:
    if op is Op.DELETE:
        return (
            f"{cls} on {branch} is append-only: {path} was deleted or renamed; restore it "
            "(files on an append-only branch are never deleted or renamed)"
        )
    return f"{cls} on {branch} is append-only: add a new file instead of editing {path}"


def not_grown(branch: str, cls: PathClass, path: str, reason: str) -> str:
    why = f" ({reason})" if reason else ""
    return (
        f"{cls} on {branch} is append-only: {path} was edited, not only grown at its end{why}; "
        "keep its old bytes as they were and append, or add a new file"
    )


def carry_unproven(branch: str, cls: PathClass, path: str, why: str) -> str:
    """A merge on an append-only branch removes rows its source does not prove removed."""
    return (
        f"{cls} on {branch} is append-only: {path} loses rows this merge does not prove were "
        f"cleaned on its source ({why}); only `branchml pull` of a source named in "
        "pulls.carry_removals removes rows, and only those it removed since the last pull"
    )


def op_not_allowed(branch: str, cls: PathClass, op: Op, path: str, allowed: Iterable[Op]) -> str:
    ok = ", ".join(sorted(str(o) for o in allowed))
    return f"{cls} on {branch} may only {ok}, not {op}: {path}"


def unknown_branch(branch: str, patterns: list[str], main: str = "main") -> str:
    """`main`: the trusted main branch's name (master in a `--main master` repository)."""
    return (
        f"branch {branch} matches no branch type in branchml.yaml ({', '.join(patterns)}): "
        f"rename it to match one, or add a type for it to branchml.yaml on {main}"
    )


def protected_delete(branch: str) -> str:
    return f"{branch} is protected: deleting it is refused"


def protected_force(branch: str) -> str:
    return (
        f"{branch} is protected: a force-push (non-fast-forward) is refused; "
        f"fetch, merge or rebase onto the remote {branch}, and push again"
    )


def tree_entry(rule: str, branch: str, cls: PathClass, path: str, detail: str,
               modes: tuple[str, str], main: str = "main") -> str:
    """An entry git refuses to check out, a link the config does not allow, a mode change."""
    if rule == "bad-path":
        return (f"{path} cannot be checked out: git refuses a path with the part {detail!r}; "
                "remove it from the commit")
    if rule in ("symlink", "gitlink"):
        what = "a symbolic link" if rule == "symlink" else "a gitlink (submodule)"
        return (f"{path} is {what}, which {cls} on {branch} may not hold: commit the file "
                f"itself, or allow it under trees.{rule}s in branchml.yaml on {main}")
    return (f"{cls} on {branch} is append-only: {path} changed its mode from {modes[0]} to "
            f"{modes[1]}; keep its mode, or set trees.mode_changes: true on {main}")


_OBJECT_PROBLEM = {
    "size": "its file there holds {size} bytes, not the {want} the pointer states",
    "content": "its bytes there do not hash to that oid",
    "unreadable": "its file there cannot be read as a regular file",
    "changed": "its file there changed while it was being read",
}


def lfs_object(path: str, oid: str, problem: str, server: bool, where: str,
               size: int | None = None, want: int = 0) -> str:
    """A pointer whose object the receiving side (server) or this clone does not hold, byte
    for byte; `where` names the store that was read."""
    if server and problem == "missing":
        return (f"{path}: the git-lfs object {oid} is not in the server's LFS store "
                f"({where}): upload it first (`git lfs push --object-id REMOTE {oid}` from a "
                "clone that has it, or push without --no-verify), then push again")
    if server:
        why = _OBJECT_PROBLEM[problem].format(size=size, want=want)
        return (f"{path}: the server's LFS store ({where}) holds the git-lfs object {oid}, but "
                f"{why}: have the server's administrator delete that file, upload the object "
                f"again (`git lfs push --object-id REMOTE {oid}`), then push again")
    if problem == "missing":
        return (f"{path}: the git-lfs object {oid} is neither in this clone's LFS store "
                f"({where}) nor under a pointer the remote already has: the object was never "
                "made or fetched here; add the file again (`git add`), or `git lfs fetch` it "
                "from where it is, then push")
    why = _OBJECT_PROBLEM[problem].format(size=size, want=want)
    return (f"{path}: this clone's LFS store ({where}) holds the git-lfs object {oid}, but "
            f"{why}: restore it (`git lfs fetch`, or add the file again), then push")


def long_message(size: int, limit: int) -> str:
    """A commit whose message is over the checker's limit (it would make every door read it)."""
    shown = f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit:,} bytes"
    return (f"its message is {size:,} bytes; the limit is {shown}: keep long text in a file "
            "of the commit and rewrite the commit with a short message, then push again")


def other_client(branch: str, client: str, path: str) -> str:
    """A commit on an analysis branch holding another client's monitored data."""
    return (f"{path} is another client's monitoring data: {branch} holds only "
            f"monitoring/{client}/; remove it from the commit (`branchml pull monitoring "
            f"{branch}` takes only {client}'s folders)")
