"""`branchml check`: judge staged changes, a range, or a push against the trusted policy."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from branchml.core import growth, split
from branchml.core.changes import Change, CommitFacts, Growth, Violation
from branchml.core.lfs_pointer import MAX_POINTER_SIZE, parse_pointer
from branchml.core.names import check_branch_name
from branchml.core.rules import judge_commits, judge_ref_update, unknown_branch
from branchml.errors import UsageError
from branchml.ops.configcheck import judged_config
from branchml.ops.trusted import TrustedPolicy, load_trusted, main_branch_name, trusted_ref
from branchml.repo import lfs
from branchml.repo.reader import Git

ZERO = "0" * 40


@dataclass
class CheckResult:
    branch: str
    commits: int = 0
    violations: list[Violation] = field(default_factory=list)
    policy_source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "branch": self.branch,
            "commits_checked": self.commits,
            "policy": self.policy_source,
            "violations": [v.to_dict() for v in self.violations],
            "notes": self.notes,
        }


def make_probe(git: Git) -> Any:
    """Growth of a modified file, through its object ids (plain blobs) or LFS objects."""
    algo = git.layout.object_format

    def probe(change: Change) -> Growth:
        cat = git.cat
        old_size, new_size = cat.size(change.old_oid), cat.size(change.new_oid)
        if old_size is None or new_size is None:
            return Growth(False, "an object of the change is missing")
        if old_size <= MAX_POINTER_SIZE and new_size <= MAX_POINTER_SIZE:
            old_ptr = parse_pointer((cat.read(change.old_oid) or ("", b""))[1])
            new_ptr = parse_pointer((cat.read(change.new_oid) or ("", b""))[1])
            if old_ptr and new_ptr:
                return _lfs_growth(git, old_ptr, new_ptr)
            if bool(old_ptr) != bool(new_ptr):
                return Growth(False, "it moved between git-lfs and plain git storage")
        if new_size < old_size:
            return Growth(False, "it is shorter than before")
        chunks = cat.stream(change.new_oid) or iter(())
        if growth.git_prefix_matches(change.old_oid, old_size, chunks, algo):
            return Growth(True)
        return Growth(False, "its old bytes changed")

    return probe


def promotion_check(git: Git, policy: Any) -> Any:
    """A commit on stable/* may change code when its Promoted-From trailer names a commit on
    a code branch whose code is exactly the commit's code (no hand edits, no edited trailer)."""
    from branchml.content.snapshot import code_digest
    from branchml.core.model import BranchKind

    def check(commit: CommitFacts) -> str | None:
        branch, _, sha = commit.promoted_from.partition(" ")
        bt = policy.branch_type(branch)
        if bt is None or bt.kind is not BranchKind.CODE:
            return f"its Promoted-From names {branch or 'nothing'}, which is not a code branch"
        if len(sha) < 40 or not git.has_object(sha):
            return f"its Promoted-From commit {sha[:10] or '?'} is not in this repository"
        tips = [t for t in (git.resolve(f"refs/heads/{branch}"),) if t]
        if not any(git.is_ancestor(sha, t) for t in tips):
            return f"{sha[:10]} is not on {branch} here (push {branch} first)"
        if code_digest(git, policy, commit.sha) != code_digest(git, policy, sha):
            return (f"its code differs from the promoted commit {sha[:10]}: code was changed by "
                    "hand or the trailer was edited")
        return None

    return check


def _lfs_growth(git: Git, old: Any, new: Any) -> Growth:
    if new.size < old.size:
        return Growth(False, "it is shorter than before")
    path = lfs.object_file(git.layout.common_dir, new)
    if not path.is_file():
        return Growth(
            False,
            f"its git-lfs object {new.oid[:12]} is not in this repository's LFS store, so its "
            "growth cannot be verified: fetch it (`git lfs fetch`), or on a push, let git-lfs "
            "upload it first (push without --no-verify)",
        )
    if growth.lfs_prefix_matches(old.oid, old.size, lfs.read_chunks(path)):
        return Growth(True)
    return Growth(False, "its old bytes changed")


def _judge(git: Git, branch: str, commits: Iterable[CommitFacts], trusted: TrustedPolicy,
           result: CheckResult) -> None:
    result.policy_source = trusted.source
    commits = judged_config(git, branch, commits, trusted, result.violations)  # main's config
    if trusted.policy.branch_type(branch) is None:
        if trusted.policy.unknown_branches == "reject":
            result.violations.append(unknown_branch(trusted.policy, branch))
        return
    split_changes: list[tuple[str, Change]] = []
    counted = _counting(commits, result, split_changes)
    result.violations.extend(judge_commits(trusted.policy, branch, counted, make_probe(git),
                                           promotion_check(git, trusted.policy)))
    for sha, change in split_changes:
        result.violations.extend(
            Violation("split-stable", f"split: {why}; an item once assigned never moves",
                      sha, change.path, branch)
            for why in split.problems(_content(git, change.old_oid),
                                      _content(git, change.new_oid) or b""))


def _counting(commits: Iterable[CommitFacts], result: CheckResult,
              split_changes: list[tuple[str, Change]]) -> Iterator[CommitFacts]:
    for commit in commits:
        result.commits += bool(commit.sha)
        split_changes.extend((commit.sha, c) for c in commit.changes
                             if c.path == split.ASSIGNMENT and c.status != "D")
        yield commit


def _content(git: Git, oid: str) -> bytes | None:
    """A blob's content, through the LFS store when it is a pointer (None: not there)."""
    if set(oid) == {"0"}:
        return None
    found = git.cat.read(oid)
    if found is None:
        return None
    pointer = parse_pointer(found[1])
    if pointer is None:
        return found[1]
    path = lfs.object_file(git.layout.common_dir, pointer)
    return path.read_bytes() if path.is_file() else None


def check_staged(git: Git) -> CheckResult:
    _ = git.layout  # "not a repository" before anything else
    branch = git.current_branch()
    if branch is None:
        return CheckResult("(detached HEAD)", notes=["detached HEAD: no branch rules apply"])
    main = main_branch_name(git)
    candidates = ["HEAD"] if branch == main else [trusted_ref(git), "HEAD"]
    result = CheckResult(branch)
    _judge(git, branch, [git.staged_changes()], load_trusted(git, candidates), result)
    return result


def check_range(git: Git, spec: str, branch: str | None) -> CheckResult:
    start, sep, end = spec.partition("..")
    if not sep or not start or not end or end.startswith("."):
        raise UsageError(f"--range {spec!r} is not of the form A..B; give two revisions.")
    _ = git.layout
    old, new = _resolve(git, start), _resolve(git, end)
    branch = check_branch_name(branch or git.current_branch() or "")
    commits = git.range_facts(new, [old])
    candidates = [old] if branch == main_branch_name(git) else [trusted_ref(git)]
    result = CheckResult(branch)
    _judge(git, branch, commits, load_trusted(git, candidates), result)
    return result


def _resolve(git: Git, rev: str) -> str:
    sha = None if rev.startswith("-") else git.resolve(rev)
    if sha is None:
        raise UsageError(f"{rev!r} is not a commit in this repository; check the --range.")
    return sha


class PushedRef(NamedTuple):
    ref: str
    old: str  # the receiving side's value (zeros: new)
    new: str  # zeros: deletion


def check_push(git: Git, updates: list[PushedRef], exclude_new: list[str],
               main_candidates: list[str]) -> CheckResult:
    """Judge each branch update of a push; `exclude_new` bounds the commits of a new branch
    (pre-push: the remote's tracking refs; pre-receive: every ref already received)."""
    total = CheckResult("(push)")
    main = main_branch_name(git)
    for u in updates:
        if not u.ref.startswith("refs/heads/"):
            continue
        branch = u.ref.removeprefix("refs/heads/")
        deleting, creating = set(u.new) == {"0"}, set(u.old) == {"0"}
        known_old = not creating and git.has_object(u.old)
        ff = creating or (known_old and git.is_ancestor(u.old, u.new))
        cands = [u.old] if branch == main and not creating else main_candidates
        trusted = load_trusted(git, cands)
        total.policy_source = trusted.source
        verdict = judge_ref_update(trusted.policy, branch, deleting, ff)
        if verdict:
            total.violations.append(verdict)
        if deleting:
            continue
        exclude = [u.old] if known_old else exclude_new
        commits = git.range_facts(u.new, exclude)
        _judge(git, branch, commits, trusted, total)
    return total
