"""The judge: a commit's changes against the policy of its branch. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from branchml.core import messages as msg
from branchml.core.changes import Change, CommitFacts, Growth, Violation
from branchml.core.clientdata import MONITORING, analysis_client, foreign
from branchml.core.model import Op, PathClass
from branchml.core.paths import DEFAULT_TREES, TreeRules, tree_verdict
from branchml.core.policy import BranchType, Policy

GrowthProbe = Callable[[Change], Growth]
PromotionCheck = Callable[[CommitFacts], str | None]  # why the commit is no valid promotion
# why a merge's removal from an append-only file is not proven by its source (None: proven;
# "": the commit claims no carried removal: no merge, or no pair into this branch)
CarryCheck = Callable[[CommitFacts, Change], str | None]


_OPS = {"A": Op.ADD, "D": Op.DELETE}


def op_of(change: Change) -> Op:
    return _OPS.get(change.status, Op.MODIFY)


def judge_change(
    branch: str, bt: BranchType, cls: PathClass, change: Change, probe: GrowthProbe,
    promotion: Callable[[], str | None] = lambda: "", trees: TreeRules = DEFAULT_TREES,
    carried: Callable[[Change], str | None] = lambda _: "", main: str = "main",
) -> tuple[str, str] | None:
    """(rule, message) when `change` breaks the rules of `bt`, else None."""
    p, mode = change.path, change.new_mode
    modes_differ = change.status in "MT" and change.old_mode != mode  # rare
    # the tree rules, only for what can break them (the checker's hot path: 100,000s of
    # plain files of ordinary names); the same quick test opens paths.refused_part
    if (mode != "100644" or modes_differ or "/." in p or p[:1] in "./" or p[-1:] == "/"
            or "~" in p or "//" in p or "\\" in p or not p.isascii()):
        bad = tree_verdict(change, cls, modes_differ and bt.is_append_only(cls), trees)
        if bad is not None:  # before the class rules: a poisoned entry is refused anywhere
            return bad[0], msg.tree_entry(bad[0], branch, cls, p, bad[1],
                                          (change.old_mode, mode), main)
    if p.startswith(MONITORING) and change.status != "D":  # cheap test first: the hot path
        client = analysis_client(bt, branch)
        if client is not None and foreign(p, cls, client):
            return "other-client", msg.other_client(branch, client, p)
    allowed = bt.ops_for(cls)
    if not allowed:
        return "class-not-allowed", msg.class_not_allowed(branch, bt, cls, change.path, main)
    if cls in bt.promoted and bt.kind.takes_promotions:
        why = promotion()
        if why is None:
            return None  # a verified promotion: its code equals the promoted dev commit's
        return "promotion-only", msg.promotion_only(branch, cls, change.path, why)
    op = op_of(change)
    if op in allowed:
        return None
    if op is Op.MODIFY and Op.GROW in allowed:
        growth = probe(change)
        if growth.grows:
            return None
        why = carried(change)  # a pull carrying removals proven by its source (ops/carrycheck)
        if why is None:
            return None
        return "append-only", (msg.carry_unproven(branch, cls, change.path, why) if why
                               else msg.not_grown(branch, cls, change.path, growth.reason))
    if bt.is_append_only(cls):
        why = carried(change) if op is Op.DELETE else ""
        if why is None:
            return None
        return "append-only", (msg.carry_unproven(branch, cls, change.path, why) if why
                               else msg.append_only(branch, cls, op, change.path))
    return "op-not-allowed", msg.op_not_allowed(branch, cls, op, change.path, allowed)


def judge_commit(
    policy: Policy, branch: str, commit: CommitFacts, probe: GrowthProbe
) -> list[Violation]:
    return judge_commits(policy, branch, [commit], probe)


def judge_commits(
    policy: Policy, branch: str, commits: Iterable[CommitFacts], probe: GrowthProbe,
    promotion: PromotionCheck | None = None, carry: CarryCheck | None = None,
    main: str = "main",
) -> list[Violation]:
    """Every violation in `commits` (consumed as they come: a stream from git); `main`: the
    trusted main branch's name, which a refusal names."""
    bt = policy.branch_type(branch)
    if bt is None:
        if policy.unknown_branches == "allow":
            return []
        first = next(iter(commits), CommitFacts("", "", ())).sha
        return [unknown_branch(policy, branch, first, main)]
    out: list[Violation] = []
    classify, trees = policy.classify, policy.trees
    for commit in commits:
        verdict_cache: dict[str, str | None] = {}

        def promo(c: CommitFacts = commit, cache: dict[str, str | None] = verdict_cache
                  ) -> str | None:
            if "v" not in cache:
                cache["v"] = promotion(c) if promotion and c.promoted_from else ""
            return cache["v"]

        def carried(ch: Change, c: CommitFacts = commit) -> str | None:
            return carry(c, ch) if carry is not None and c.merged else ""

        for change in commit.changes:
            verdict = judge_change(branch, bt, classify(change.path), change, probe, promo,
                                   trees, carried, main)
            if verdict:
                out.append(Violation(verdict[0], verdict[1], commit.sha, change.path, branch))
    return out


def unknown_branch(policy: Policy, branch: str, sha: str = "", main: str = "main") -> Violation:
    patterns = [bt.pattern for bt in policy.branch_types]
    return Violation("unknown-branch", msg.unknown_branch(branch, patterns, main), sha, "",
                     branch)


def judge_ref_update(
    policy: Policy, branch: str, deleting: bool, fast_forward: bool
) -> Violation | None:
    """Protected branches: no deletion, no force-push."""
    bt = policy.branch_type(branch)
    if bt is None or not bt.protected:
        return None
    if deleting:
        return Violation("protected-delete", msg.protected_delete(branch), branch=branch)
    if not fast_forward:
        return Violation("protected-force", msg.protected_force(branch), branch=branch)
    return None
