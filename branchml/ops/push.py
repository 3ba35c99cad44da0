"""`branchml push`, and the push behind `tag --push`, `deploy --push`, `rollback --push`.

Order: read the remote's refs as they are now (`ls-remote`, not the tracking refs), decide
what goes (typed branches ahead or new, release tags missing there, deploy refs moved
forward), judge it all here with the server's own checks (ops/push_check.py, the policy of
the remote's main), upload the LFS objects, then move every ref in ONE `git push --atomic`
in which each ref is a compare-and-swap against the value judged. The remote takes all the
refs or none, and never a ref whose LFS objects it lacks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.core.names import check_remote_name
from branchml.core.naming import DEFAULT_FORMAT, TagFormat
from branchml.errors import ConflictError
from branchml.ops.check import CheckResult
from branchml.ops.push_check import PushedRef, RefView, check_push
from branchml.ops.push_outcome import refusal
from branchml.ops.trusted import (
    TrustedPolicy,
    judging,
    load_trusted,
    main_branch_name,
    trusted_ref,
)
from branchml.repo import lfs
from branchml.repo import remote as door
from branchml.repo.reader import Git

JUDGED_ENV = "BRANCHML_PUSH_JUDGED"  # read by the pre-push hook (ops/hook.py)


@dataclass
class Move:
    """One ref of the push: the remote's value now (`old`, zeros when new) and ours."""

    ref: str
    old: str
    new: str

    @property
    def kind(self) -> str:
        return ("branch" if self.ref.startswith("refs/heads/") else
                "tag" if self.ref.startswith("refs/tags/") else "deploy")

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "kind": self.kind, "old": None if _zero(self.old) else self.old,
                "new": self.new}


@dataclass
class PushReport:
    remote: str
    moves: list[Move] = field(default_factory=list)
    behind: list[str] = field(default_factory=list)  # refs the remote has newer: not pushed
    verdict: CheckResult = field(default_factory=lambda: CheckResult("(push)"))
    lfs_objects: list[tuple[str, str]] = field(default_factory=list)  # (oid, path)
    dry_run: bool = False
    pushed: bool = False

    @property
    def ok(self) -> bool:
        return self.verdict.ok

    def to_dict(self) -> dict[str, Any]:
        return {"remote": self.remote, "dry_run": self.dry_run, "pushed": self.pushed,
                "ok": self.ok, "refs": [m.to_dict() for m in self.moves],
                "behind": self.behind, "verdict": self.verdict.to_dict(),
                "lfs_objects": [{"oid": o, "path": p} for o, p in self.lfs_objects]}


def push(path: Path, remote: str = "origin", dry_run: bool = False,
         progress: door.Progress | None = None) -> PushReport:
    """Push every typed branch, release tag and deploy ref that changed, judged first."""
    return _run(path, remote, None, dry_run, progress)


def push_refs(path: Path, remote: str, refs: list[str],
              progress: door.Progress | None = None) -> PushReport:
    """The same push for named local refs only (`tag --push`, `deploy --push`); a ref the
    remote already has as it is here is left out. Raises when the push does not happen."""
    report = _run(path, remote, refs, False, progress)
    if not report.ok:
        raise _verdict(report)
    return report


def _run(path: Path, remote: str, only: list[str] | None, dry_run: bool,
         progress: door.Progress | None) -> PushReport:
    check_remote_name(remote)
    door.url_of(path, remote)
    g = Git(path)
    try:
        with judging():  # a checker door: an invalid trusted config gets the repair policy
            before = _remote_refs(g, remote)
            candidates = _trusted_candidates(g, remote, before)
            trusted = load_trusted(g, candidates)
            report = PushReport(remote, dry_run=dry_run)
            local = _local_refs(g, trusted) if only is None else _named(g, only)
            report.moves, report.behind = _moves(g, remote, before, local)
            if not report.moves:
                return report
            updates = [PushedRef(m.ref, m.old, m.new) for m in report.moves]
            report.verdict = check_push(g, updates, RefView(before, updates), candidates)
        if not report.ok:
            return report
        report.lfs_objects = _lfs(g, remote, report.moves)
        if not dry_run:
            _send(g, remote, report, progress)
        return report
    finally:
        g.close()


def _remote_refs(g: Git, remote: str) -> dict[str, str]:
    """The remote's refs now, with every object they name brought here (objects only: no
    local ref moves), so that ancestry can be read."""
    before = door.ls_remote(g.cwd, remote)
    missing = [ref for ref, sha in before.items()
               if ref.startswith(("refs/heads/", "refs/tags/", "refs/deploy/"))
               and not g.has_object(sha)]
    if missing:
        door.fetch(g.cwd, remote, missing, objects_only=True)
    if any(not g.has_object(before[ref]) for ref in missing):
        raise ConflictError(f"the refs of {remote} moved while they were read (someone is "
                            "pushing): run the command again; nothing was pushed.")
    return before


def _trusted_candidates(g: Git, remote: str, before: Mapping[str, str]) -> list[str]:
    """The policy comes from the remote's main as it is now (the server judges by it); from
    this clone's main only for a first push into an empty repository."""
    main = main_branch_name(g)
    theirs = before.get(f"refs/heads/{main}")
    if theirs is not None:
        has_config = g.cat.info(f"{theirs}:branchml.yaml") is not None
        mine = g.resolve(trusted_ref(g))
        adopting = (mine is not None and g.cat.info(f"{mine}:branchml.yaml") is not None
                    and g.is_ancestor(theirs, mine))
        if has_config or adopting:  # named by its tracking ref when that is where it is
            tracking = f"refs/remotes/{remote}/{main}"
            return [tracking if g.refs(tracking).get(tracking) == theirs else theirs]
    elif not any(r.startswith("refs/heads/") for r in before):
        return [trusted_ref(g)]
    raise door.RemoteError(
        f"{remote} is not a branchml repository: it has branches but no {main} holding "
        "branchml.yaml; push to an empty repository or to the project's own, or name "
        "another with --remote.")


def _local_refs(g: Git, trusted: TrustedPolicy) -> dict[str, str]:
    """Every typed branch, release tag (trusted format) and deploy ref of this clone."""
    fmt = TagFormat((trusted.config.get("tags") or {}).get("format", DEFAULT_FORMAT))
    refs = {r: s for r, s in g.refs("refs/heads/").items()
            if trusted.policy.branch_type(r.removeprefix("refs/heads/")) is not None}
    refs.update((r, s) for r, s in g.refs("refs/tags/").items()
                if fmt.parse(r.removeprefix("refs/tags/")))
    refs.update(g.refs("refs/deploy/"))
    return refs


def _named(g: Git, refs: Iterable[str]) -> dict[str, str]:
    found = {}
    for ref in refs:
        sha = g.refs(ref).get(ref)
        if sha is not None:
            found[ref] = sha
    return found


def _moves(g: Git, remote: str, before: Mapping[str, str], local: Mapping[str, str]
           ) -> tuple[list[Move], list[str]]:
    """What goes (new, or ahead of the remote's), what is behind (left, said), and what
    refuses the whole push (diverged, a release tag that differs)."""
    moves, behind, apart = [], [], []
    for ref, new in sorted(local.items()):
        old = before.get(ref)
        if old == new:
            continue
        if old is None:
            moves.append(Move(ref, "0" * len(new), new))
        elif ref.startswith("refs/tags/"):
            apart.append(_tag_differs(ref, remote))
        elif g.is_ancestor(old, new):
            moves.append(Move(ref, old, new))
        elif g.is_ancestor(new, old):
            behind.append(ref)
        else:
            apart.append(_diverged(ref, remote))
    if apart:
        more = f" (and {len(apart) - 1} more)" if len(apart) > 1 else ""
        raise ConflictError(f"{apart[0]}{more}; nothing was pushed.")
    return moves, behind


def _tag_differs(ref: str, remote: str) -> str:
    name = ref.removeprefix("refs/tags/")
    return (f"release tag {name} here differs from {remote}'s (a release is made once: "
            f"someone released {name} first, or this one was rewritten): delete yours "
            f"(`git tag -d {name}`) and tag again with `branchml tag`")


def _diverged(ref: str, remote: str) -> str:
    if ref.startswith("refs/deploy/"):
        client = ref.removeprefix("refs/deploy/")
        return (f"{ref} has diverged from {remote}'s (someone deployed {client} meanwhile, "
                "or this history was rewritten; deployment history only moves forward): run "
                f"`branchml sync`, then deploy {client} again")
    name = ref.removeprefix("refs/heads/")
    return (f"{name} has diverged from {remote}'s (each has commits the other lacks): run "
            "`branchml sync`, bring the two together as it says, then push again")


def _lfs(g: Git, remote: str, moves: list[Move]) -> list[tuple[str, str]]:
    revs = [m.new for m in moves if m.kind != "deploy"]  # deploy commits hold no LFS files
    if not revs or not lfs.available():
        return []
    return door.lfs_pending(g.cwd, remote, revs)


def judged_digest(remote: str, updates: Iterable[tuple[str, str, str]]) -> str:
    """What a push judged here is keyed by: the remote's name and every (ref, old, new)."""
    lines = sorted(f"{ref} {old} {new}" for ref, old, new in updates)
    return hashlib.sha256("\n".join([remote, *lines]).encode()).hexdigest()


def _send(g: Git, remote: str, report: PushReport,
          progress: door.Progress | None) -> None:
    """LFS objects first, then every ref in one atomic compare-and-swap push."""
    door.lfs_upload(g.cwd, remote, [o for o, _ in report.lfs_objects], progress)
    # The pre-push hook inside `git push` would judge these same updates again (a second
    # Python start-up and log walk) and git-lfs's pre-push would scan for the objects just
    # uploaded. The digest lets the hook skip only when git hands it exactly the updates
    # judged here (same remote, refs, old and new values): any other push is judged. Setting
    # it by hand skips no more than `git push --no-verify` does; the server is the gate.
    env = {JUDGED_ENV: judged_digest(remote, ((m.ref, m.old, m.new) for m in report.moves)),
           "GIT_LFS_SKIP_PUSH": "1"}
    leases = {m.ref: "" if _zero(m.old) else m.old for m in report.moves}
    outcome = door.push_atomic(g.cwd, remote, [f"{m.new}:{m.ref}" for m in report.moves],
                               leases=leases, env=env)
    if not outcome.ok:
        raise refusal(outcome, remote)
    report.pushed = True


def _verdict(report: PushReport) -> Exception:
    from branchml.errors import VerdictError

    v = report.verdict.violations
    first = "refused" if not v else v[0].message if v[0].message.startswith(
        f"{v[0].branch}:") else f"{v[0].branch}: {v[0].message}"  # deploy's name their ref
    more = f" (and {len(v) - 1} more: `branchml push --dry-run` lists them)" if len(v) > 1 \
        else ""
    return VerdictError(f"the push to {report.remote} was refused here by the policy "
                        f"({report.verdict.policy_source}): {first}{more}; nothing was pushed.")


def _zero(oid: str) -> bool:
    return set(oid) == {"0"}
