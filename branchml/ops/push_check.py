"""A push judged as a whole: every ref it moves, against the refs as they will be after it.

Branches get their type's rules (ops/check.py); a new branch is judged from where it leaves
its parent or a branch of its own type, never from "whatever some other ref reaches". Release
tags are created once and never moved or deleted, and must carry a manifest that verifies
against their commit on a stable branch; deploy refs only move forward through commits that
name existing releases; any other ref is refused unless branchml.yaml's `refs.allow` names its
namespace. The server runs no code of the repository for any of this.
"""

from __future__ import annotations

from typing import NamedTuple

from branchml.core.changes import CommitFacts, Violation
from branchml.core.globs import glob_match
from branchml.core.naming import DEFAULT_FORMAT, TagFormat
from branchml.core.rules import judge_ref_update
from branchml.ops import adoption
from branchml.ops.check import CheckResult, _judge, _oldest, judge_update, promotion_check
from branchml.ops.lfs_gate import LfsGate
from branchml.ops.push_refs import check_deploy_ref, check_release_tag, zero
from branchml.ops.trusted import TrustedPolicy, load_trusted, main_branch_name
from branchml.repo.reader import Git


class PushedRef(NamedTuple):
    ref: str
    old: str  # the receiving side's value (zeros: new)
    new: str  # zeros: deletion


class RefView:
    """The receiving side's refs before the push (`before`, full ref names) and after it
    (`after`: every update of the push applied), so that each ref is judged against the
    others as they will be once the whole push is in."""

    def __init__(self, before: dict[str, str], updates: list[PushedRef]) -> None:
        self.before = before
        self.after = dict(before)
        for u in updates:
            if zero(u.new):
                self.after.pop(u.ref, None)
            else:
                self.after[u.ref] = u.new

    def tip(self, branch: str) -> str | None:
        return self.after.get(f"refs/heads/{branch}")

    def branches(self, after: bool = True) -> dict[str, str]:
        refs = self.after if after else self.before
        return {r.removeprefix("refs/heads/"): s for r, s in refs.items()
                if r.startswith("refs/heads/")}


def check_push(git: Git, updates: list[PushedRef], view: RefView,
               main_candidates: list[str], lfs_objects: bool = True) -> CheckResult:
    """Judge every ref update of a push; the push is refused when any is. `lfs_objects`:
    also require every LFS pointer added to name an object held (ops/lfs_gate.py): a
    push's rule. A local fast-forward (the reference-transaction hook) moves to commits
    that were fetched or committed here, whose intermediate objects a clone rightly lacks."""
    total = CheckResult("(push)")
    main = main_branch_name(git)
    created = [u.new for u in updates if u.ref == f"refs/heads/{main}" and zero(u.old)]
    main_trusted = adoption.first_push(git, load_trusted(git, main_candidates),
                                       created[0] if created and not zero(created[0]) else None,
                                       bool(view.branches(after=False)))
    total.policy_source = main_trusted.source
    fmt = TagFormat((main_trusted.config.get("tags") or {}).get("format", DEFAULT_FORMAT))
    allowed = [str(g) for g in (main_trusted.config.get("refs") or {}).get("allow") or []]
    gate = LfsGate(git, [u.new for u in updates], view.branches(after=False).values())
    for u in updates:
        if u.ref.startswith("refs/heads/"):
            branch = u.ref.removeprefix("refs/heads/")
            creating = zero(u.old)
            trusted = (load_trusted(git, [u.old]) if branch == main and not creating
                       else main_trusted)
            _branch_update(git, u, branch, trusted, view, total, gate)
        elif u.ref.startswith("refs/tags/") and fmt.parse(u.ref[len("refs/tags/"):]):
            total.violations.extend(check_release_tag(git, u.ref, u.old, u.new, view.after,
                                                      main_trusted))
        elif u.ref.startswith("refs/deploy/"):
            total.violations.extend(check_deploy_ref(git, u.ref, u.old, u.new, view.after, fmt))
        elif u.ref.startswith("refs/replace/"):  # refs.allow cannot let these in
            total.violations.append(Violation(
                "ref-namespace", f"{u.ref} is a replace ref: it would make git show other "
                "objects in place of the ones judged; branchml never accepts refs/replace/*",
                branch=u.ref))
        elif not any(glob_match(g, u.ref) for g in allowed):
            total.violations.append(Violation(
                "ref-namespace", f"{u.ref} is outside the refs branchml accepts (branches, "
                f"release tags of the form {fmt.template}, refs/deploy/*): add a glob for it "
                "to refs.allow in branchml.yaml on main to accept it", branch=u.ref))
    if lfs_objects:
        total.violations.extend(gate.violations())
    return total


def _branch_update(git: Git, u: PushedRef, branch: str, trusted: TrustedPolicy, view: RefView,
                   total: CheckResult, gate: LfsGate) -> None:
    total.policy_source = trusted.source
    deleting, creating = zero(u.new), zero(u.old)
    known_old = not creating and git.has_object(u.old)
    ff = creating or (known_old and git.is_ancestor(u.old, u.new))
    verdict = judge_ref_update(trusted.policy, branch, deleting, ff)
    if verdict:
        total.violations.append(verdict)
    if deleting:
        return
    if known_old:
        judge_update(git, branch, u.old, u.new, trusted, total, view.tip, gate)
    else:  # new here, or its old tip unknown (pre-push before a fetch): judged as new
        _new_branch(git, branch, u.new, trusted, view, total, gate)


def _new_branch(git: Git, branch: str, new: str, trusted: TrustedPolicy, view: RefView,
                total: CheckResult, gate: LfsGate | None = None) -> None:
    """A new typed branch leaves the own history (the first-parent chain) of its parent or
    of an existing branch of its own type at a fork point F; it is judged as an update from
    F to its tip. Only first-parent history counts: a commit that some branch reaches
    through a merge's second parent was judged only as part of that merge's diff, so it
    vouches for nothing, and neither does a tag or any other ref. A branch whose type has a
    parent never starts from a root commit of its own."""
    policy = trusted.policy
    bt = policy.branch_type(branch)
    if bt is None:  # not judged (unknown_branches: allow), but the LFS pointers it brings are
        have = list(view.branches(after=False).values())
        _judge(git, branch, git.range_facts(new, have), trusted, total, gate=gate)
        return
    parent = policy.parent_branch(branch)
    covered = [s for b, s in view.branches(after=False).items()
               if b != branch and policy.branch_type(b) == bt]
    parent_tip = view.tip(parent) if parent and parent != branch else None
    covered += [parent_tip] if parent_tip else []
    if parent and not covered:
        total.violations.append(Violation(
            "new-branch-base", f"{branch} is new and its parent {parent} is not on the "
            f"receiving side: push {parent} first, or in the same push", branch=branch))
        return
    fork = _from_cutoff(git, _fork_point(git, new, covered), parent, trusted)
    if fork is not None:
        judge_update(git, branch, fork, new, trusted, total, view.tip, gate)
        return
    walked: list[CommitFacts] = []  # no fork point: the whole first-parent history is new
    commits = git.range_facts(new, adoption.excluded(git, trusted))
    _judge(git, branch, _oldest(commits, walked), trusted, total,
           promotion_check(git, trusted, branch, view.tip), gate, view.tip)
    if parent:
        root = walked[0].sha if walked else new
        total.violations.append(Violation(
            "new-branch-base", f"{branch} is new but its history starts at its own root "
            f"commit {root[:10]}, not on {parent}: create it from {parent} "
            f"(`branchml branch {branch}`)", root, branch=branch))


def _from_cutoff(git: Git, fork: str | None, parent: str | None, trusted: TrustedPolicy
                 ) -> str | None:
    """Where a new branch is judged from: its fork point, unless that lies before the
    adoption cut-off (or, for a branch without a parent, does not exist): then the cut-off,
    as everything before it is history from before the adoption."""
    cut = adoption.cutoff(git, trusted)
    if cut is None or fork == cut:
        return fork
    if fork is None:
        return cut if parent is None else None
    return cut if git.is_ancestor(fork, cut) else fork


def _fork_point(git: Git, new: str, covered: list[str]) -> str | None:
    """The newest commit of `new`'s first-parent chain that is on the first-parent chain of
    one of `covered` (None: they share no such commit)."""
    if not covered:
        return None
    # Cheap first: the newest commit of new's chain that git's walk finds reachable from
    # `covered`, taken only when it is on one of their first-parent chains (read as a stream
    # that stops there: a branch made at its parent's tip costs a line). A walk misled by
    # skewed dates can only list commits it should not, so this candidate is never newer
    # than the true fork point: judging from it judges as much or more.
    listed = git.out("rev-list", "--first-parent", new, "--not", *covered, "--").split()
    first = git.resolve(f"{listed[-1]}^") if listed else new
    if first and any(git.on_first_parent_chain(c, first) for c in covered):
        return first
    own = set(git.out("rev-list", "--first-parent", *covered, "--").split())
    for sha in git.out("rev-list", "--first-parent", new, "--").split():
        if sha in own:
            return sha
    return None
