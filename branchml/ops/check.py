"""`branchml check`: judge staged changes, a range, or a push against the trusted policy."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.core import bounds, growth, messages, split, splitcheck
from branchml.core.changes import Change, CommitFacts, Growth, Violation
from branchml.core.lfs_pointer import MAX_POINTER_SIZE, parse_pointer
from branchml.core.names import check_branch_name, pattern_matches
from branchml.core.rules import judge_commits, unknown_branch
from branchml.errors import UsageError
from branchml.ops import adoption
from branchml.ops.carrycheck import carry_check, merging_now
from branchml.ops.configcheck import judged_config
from branchml.ops.lfs_gate import LfsGate
from branchml.ops.trusted import TrustedPolicy, load_trusted, main_branch_name, trusted_ref
from branchml.repo import lfs
from branchml.repo.logstream import MESSAGE_LIMIT
from branchml.repo.reader import Git


@dataclass
class CheckResult:
    branch: str
    commits: int = 0
    violations: list[Violation] = field(default_factory=list)
    policy_source: str = ""
    notes: list[str] = field(default_factory=list)
    staged: int | None = None  # `check --staged`: how many staged paths were judged

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "branch": self.branch,
            "commits_checked": self.commits,
            **({} if self.staged is None else {"staged_paths": self.staged}),
            "policy": self.policy_source,
            "violations": [v.to_dict() for v in self.violations],
            "notes": self.notes,
        }


def make_probe(git: Git, gate: LfsGate | None = None) -> Any:
    """Growth of a modified file, through its object ids (plain blobs) or LFS objects (read
    whole once: what the read finds is handed to `gate`)."""
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
                return _lfs_growth(git, old_ptr, new_ptr, gate)
            if bool(old_ptr) != bool(new_ptr):
                return Growth(False, "it moved between git-lfs and plain git storage")
        if new_size < old_size:
            return Growth(False, "it is shorter than before")
        chunks = cat.stream(change.new_oid) or iter(())
        if growth.git_prefix_matches(change.old_oid, old_size, chunks, algo):
            return Growth(True)
        return Growth(False, "its old bytes changed")

    return probe


BranchTips = Callable[[str], str | None]  # branch name -> its tip (after the push), or None
PromotionCheck = Callable[[CommitFacts], str | None]


def promotion_check(git: Git, trusted: TrustedPolicy, into: str, tips: BranchTips | None = None,
                    verified: list[str] | None = None) -> PromotionCheck:
    """A commit on stable/* may change code when its Promoted-From trailer names a commit on
    a code branch whose code is exactly the commit's code (no hand edits, no edited trailer),
    and promote.order lets that branch promote into `into`. `tips` gives each branch's tip
    as it will be after the whole push (so a first push of a whole repository is judged
    against itself); commits found valid are appended to `verified`."""
    from branchml.content.snapshot import code_digest
    from branchml.core.model import BranchKind

    policy = trusted.policy
    order = (trusted.config.get("promote") or {}).get("order") or {"dev/*": ["stable/*"]}

    def tip(branch: str) -> str | None:
        return tips(branch) if tips else git.resolve(f"refs/heads/{branch}")

    def check(commit: CommitFacts) -> str | None:
        branch, _, sha = commit.promoted_from.partition(" ")
        bt = policy.branch_type(branch)
        if bt is None or bt.kind is not BranchKind.CODE:
            return f"its Promoted-From names {branch or 'nothing'}, which is not a code branch"
        if not any(pattern_matches(s, branch) and any(pattern_matches(d, into) for d in ds)
                   for s, ds in order.items()):
            return f"promote.order does not let {branch} promote into {into}"
        if len(sha) < 40 or not git.has_object(sha):
            return f"its Promoted-From commit {sha[:10] or '?'} is not in this repository"
        at = tip(branch)
        if at is None or not git.is_ancestor(sha, at):
            return f"{sha[:10]} is not on {branch} here (push {branch} first)"
        if code_digest(git, policy, commit.sha) != code_digest(git, policy, sha):
            return (f"its code differs from the promoted commit {sha[:10]}: code was changed by "
                    "hand or the trailer was edited")
        if verified is not None:
            verified.append(commit.sha)
        return None

    return check


def _lfs_growth(git: Git, old: Any, new: Any, gate: LfsGate | None = None) -> Growth:
    """The old object is a prefix of the new one, read in the same pass that hashes the new
    object whole (so a pointer whose stored bytes keep the old prefix but are not its oid is
    caught: by `gate` when there is one, else here)."""
    from branchml.repo import lfsstore

    if new.size < old.size:
        return Growth(False, "it is shorter than before")
    common = git.layout.common_dir
    hashed = lfsstore.hash_object(common, new, prefix=old.size)
    problem = hashed.state.problem
    if gate is not None:
        gate.grown(new, hashed)
    if problem == "missing":
        return Growth(
            False,
            f"its git-lfs object {new.oid[:12]} is not in this repository's LFS store, so its "
            "growth cannot be verified: fetch it (`git lfs fetch`), or on a push, let git-lfs "
            "upload it first (push without --no-verify); the store read is "
            f"{lfs.store(common).describe()}",
        )
    if problem == "size":  # git-lfs refuses to check out a pointer whose size lies
        return Growth(False, f"its git-lfs pointer says {new.size} bytes, but its object "
                             f"{new.oid[:12]} holds {hashed.state.size}")
    if problem in ("unreadable", "changed"):
        return Growth(False, f"its git-lfs object {new.oid[:12]} cannot be read whole "
                             f"({problem}); the store read is {lfs.store(common).describe()}")
    if problem == "content" and gate is None:
        return Growth(False, f"its git-lfs object {new.oid[:12]} does not hash to its oid")
    if hashed.prefix_sha256 == old.oid:
        return Growth(True)
    return Growth(False, "its old bytes changed")


def _judge(git: Git, branch: str, commits: Iterable[CommitFacts], trusted: TrustedPolicy,
           result: CheckResult, promotion: PromotionCheck | None = None,
           gate: LfsGate | None = None, tips: BranchTips | None = None) -> None:
    result.policy_source = trusted.source
    commits = _bounded(git, branch, commits, result.violations)
    commits = judged_config(git, branch, commits, trusted, result.violations)  # main's config
    commits = adoption.watched(git, branch, commits, result.violations)
    if gate is not None:
        commits = gate.noted(commits, branch)
    if trusted.policy.branch_type(branch) is None:
        if trusted.policy.unknown_branches == "reject":
            result.violations.append(unknown_branch(trusted.policy, branch, "",
                                                    main_branch_name(git)))
        elif gate is not None:  # let through untyped, but its pointers still need objects
            for _ in commits:
                pass
        return
    split_changes: list[tuple[str, Change]] = []
    counted = _counting(commits, result, split_changes)
    promotion = promotion or promotion_check(git, trusted, branch)
    result.violations.extend(judge_commits(trusted.policy, branch, counted,
                                           make_probe(git, gate), promotion,
                                           carry_check(git, trusted, branch, tips),
                                           main_branch_name(git)))
    for sha, change in splitcheck.paired(split_changes):
        result.violations.extend(_split_violations(git, sha, change, branch))


def judge_update(git: Git, branch: str, old: str, new: str, trusted: TrustedPolicy,
                 result: CheckResult, tips: BranchTips | None = None,
                 gate: LfsGate | None = None) -> None:
    """An update of `branch` from `old` to `new`: each commit `new` gained along first
    parents, and, unless that walk ends on `old` itself, the net change `old` -> `new` too.
    A walk that ends elsewhere (a merge whose first parent is a new root, a rewind) never
    compares `old` with `new`; a walk that ends on `old` composes exactly into the net
    change, and every rule (classes, operations, growth, split stability) that holds for
    each step holds for the whole, so the net change is only read when needed. Commits
    from before the adoption cut-off (ops/adoption.py) are left out of the walk. `gate`
    collects the LFS pointers of what is judged (ops/lfs_gate.py)."""
    walked: list[CommitFacts] = []
    verified: list[str] = []
    start = len(result.violations)
    cut = adoption.cutoff(git, trusted)
    commits = git.range_facts(new, [old, cut] if cut else [old])
    _judge(git, branch, _oldest(commits, walked), trusted, result,
           promotion_check(git, trusted, branch, tips, verified), gate, tips)
    if len(result.violations) > start or trusted.policy.branch_type(branch) is None:
        return  # already refused: the net change would only say it again
    end = walked[0].parent if walked else new
    if end == old or (end == cut and git.is_ancestor(old, end)):
        return  # (from an `old` before the cut-off, `old` -> cut is history, not judged)
    net = git.tree_changes(old, new)
    if net.changes:
        _judge(git, branch, [net._replace(promoted_from="(net)")], trusted, result,
               _net_promotion(git, trusted, new, verified), gate)
        result.commits -= 1  # the net change is not a commit


def _net_promotion(git: Git, trusted: TrustedPolicy, new: str,
                   verified: list[str]) -> PromotionCheck:
    """Code in the net change is valid when the code at `new` is the code of a commit of
    the walk whose promotion was verified."""
    from branchml.content.snapshot import code_digest

    def check(_: CommitFacts) -> str | None:
        promoted = {code_digest(git, trusted.policy, sha) for sha in verified}
        if promoted and code_digest(git, trusted.policy, new) in promoted:
            return None
        return (f"the code at {new[:10]} is not the code of a verified promotion among the "
                "new commits (the net change of this update changes code)")

    return check


def _bounded(git: Git, branch: str, commits: Iterable[CommitFacts],
             violations: list[Violation]) -> Iterator[CommitFacts]:
    """A commit whose message the reader found over the limit is refused (its changes are
    still judged); taken from `long_messages`, so the net change never says it again."""
    for commit in commits:
        size = git.long_messages.pop(commit.sha, None)
        if size is not None:
            violations.append(Violation("message-size", messages.long_message(
                size, MESSAGE_LIMIT), commit.sha, branch=branch))
        yield commit


def _oldest(commits: Iterable[CommitFacts], into: list[CommitFacts]) -> Iterator[CommitFacts]:
    for c in commits:
        if not into:
            into.append(c)  # the oldest (the walk runs oldest first): where it ended
        yield c


def _counting(commits: Iterable[CommitFacts], result: CheckResult,
              split_changes: list[tuple[str, Change]]) -> Iterator[CommitFacts]:
    for commit in commits:
        result.commits += bool(commit.sha)
        split_changes.extend((commit.sha, c) for c in commit.changes
                             if c.path == split.ASSIGNMENT)
        yield commit


def _split_violations(git: Git, sha: str, change: Change, branch: str) -> list[Violation]:
    """Split stability of one assignment change, both files streamed (their sizes bounded
    first: a pusher's few KiB of zeros would otherwise be read as hundreds of MiB); a
    deletion is refused when the deleted file assigned items."""
    if change.status == "D":
        return _deleted(git, sha, change, branch)
    try:
        old, new = _assignment(git, change.old_oid), _assignment(git, change.new_oid)
    except bounds.TooLarge as e:
        return [Violation("too-large", f"split: {str(e).rstrip('.')}; split the items over "
                          "fewer, shorter keys", sha, change.path, branch)]
    return [Violation("split-stable", f"split: {why}; an item once assigned never moves",
                      sha, change.path, branch)
            for why in splitcheck.problems(old, new or (lambda: ()), bounds.SPLIT_LINE,
                                          bounds.SPLIT_ROWS)]


def _deleted(git: Git, sha: str, change: Change, branch: str) -> list[Violation]:
    try:
        why = splitcheck.deletion(_assignment(git, change.old_oid), bounds.SPLIT_LINE)
    except bounds.TooLarge:
        why = f"{split.ASSIGNMENT} is deleted while it assigns items"  # that large, it does
    if why is None:
        return []
    return [Violation("split-stable", f"split: {why}; an item once assigned never moves and an "
                      "assignment is never deleted, so keep the file (restore it from the "
                      "commit before)", sha, change.path, branch)]


def _assignment(git: Git, oid: str) -> splitcheck.Chunks | None:
    """A blob's content as a stream to be opened (through the LFS store when it is a pointer;
    None: not there); bounds.TooLarge when it is over bounds.SPLIT_ASSIGNMENT, before it is
    read."""
    found = None if set(oid) == {"0"} else git.cat.info(oid)
    if found is None:
        return None
    pointer = (parse_pointer((git.cat.read(oid) or ("", b""))[1])
               if found[1] <= MAX_POINTER_SIZE else None)
    path = lfs.object_file(git.layout.common_dir, pointer) if pointer else None
    if path is not None and not path.is_file():
        return None
    size = path.stat().st_size if path is not None else found[1]
    if size > bounds.SPLIT_ASSIGNMENT:
        raise bounds.TooLarge(f"{split.ASSIGNMENT} ({oid[:10]})", size, bounds.SPLIT_ASSIGNMENT)
    if path is not None:
        return lambda: _file_chunks(path, size)
    return lambda: git.cat.stream(oid) or ()  # one stream at a time: the passes take turns


def _file_chunks(path: Path, size: int) -> Iterator[bytes]:
    with path.open("rb") as f:  # at most the size judged, even if the file grew since
        while size > 0 and (chunk := f.read(min(1 << 20, size))):
            size -= len(chunk)
            yield chunk


def check_staged(git: Git) -> CheckResult:
    _ = git.layout  # "not a repository" before anything else
    branch = git.current_branch()
    if branch is None:
        return CheckResult("(detached HEAD)", notes=["detached HEAD: no branch rules apply"])
    main = main_branch_name(git)
    candidates = ["HEAD"] if branch == main else [trusted_ref(git), "HEAD"]
    staged = git.staged_changes()
    result = CheckResult(branch, staged=len(staged.changes))
    merging = merging_now(git)
    if merging is not None:  # a merge's removals may be carried ones (ops/carrycheck.py)
        staged = staged._replace(parent=git.resolve("HEAD") or "", merged=merging)
    _judge(git, branch, [staged], load_trusted(git, candidates), result)
    return result


def check_range(git: Git, spec: str, branch: str | None) -> CheckResult:
    start, sep, end = spec.partition("..")
    if not sep or not start or not end or end.startswith("."):
        raise UsageError(f"--range {spec!r} is not of the form A..B; give two revisions.")
    _ = git.layout
    old, new = _resolve(git, start), _resolve(git, end)
    branch = check_branch_name(branch or git.current_branch() or "")
    candidates = [old] if branch == main_branch_name(git) else [trusted_ref(git)]
    result = CheckResult(branch)
    gate = LfsGate(git, [new])
    judge_update(git, branch, old, new, load_trusted(git, candidates), result, gate=gate)
    result.violations.extend(gate.violations())
    return result


def _resolve(git: Git, rev: str) -> str:
    sha = None if rev.startswith("-") else git.resolve(rev)
    if sha is None:
        raise UsageError(f"{rev!r} is not a commit in this repository; check the --range.")
    return sha
