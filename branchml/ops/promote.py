"""`branchml promote dev/x stable/x`: one commit on stable whose code is exactly the dev
commit's code; stable's data, models and tracking stay as they were."""

from __future__ import annotations

import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.core.model import BranchKind, PathClass
from branchml.core.names import check_branch_name, pattern_matches
from branchml.core.plan import Checkout, Plan, RefUpdate, Step
from branchml.errors import DirtyWorktree, StateError, UsageError, VerdictError
from branchml.ops.check import check_range
from branchml.ops.trusted import load_trusted, trusted_config, trusted_ref
from branchml.repo import apply, objectstore, proc, worktree
from branchml.repo.reader import Git


@dataclass
class PromoteReport:
    src: str
    dst: str
    src_commit: str
    commit: str = ""
    changed: list[str] = field(default_factory=list)  # every code path that differs
    added: list[str] = field(default_factory=list)  # of those, new on dst
    deleted: list[str] = field(default_factory=list)  # of those, gone from dst
    gates: list[str] = field(default_factory=list)
    dry_run: bool = False
    up_to_date: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def promote(path: Path, src: str, dst: str, dry_run: bool = False) -> PromoteReport:
    g, repo = Git(path), objectstore.Repo(path)
    if not dry_run:
        apply.prepare(repo)  # a killed run's files are finished before the dirty check
    check_branch_name(src)
    check_branch_name(dst)
    trusted = load_trusted(g, [trusted_ref(g), "HEAD"])
    cfg = trusted_config(g).get("promote") or {}
    _check_order(trusted.policy, cfg, src, dst)
    gates = list(cfg.get("require") or [])
    argvs = [gate_argv(gate) for gate in gates]  # refused before anything is read or written
    src_sha, dst_sha = repo.branch_target(src), repo.branch_target(dst)
    if src_sha is None or dst_sha is None:
        missing = src if src_sha is None else dst
        raise UsageError(f"{missing!r} is not a branch here; see `git branch` (or fetch it).")
    apart = g.diverged(dst)
    if apart:
        raise StateError(f"{dst} has diverged from {apart}: merge or rebase it onto {apart} "
                         "first, then promote.")
    apply.not_busy(repo, dst)
    if repo.head_branch() == dst and repo.root and worktree.dirty(repo.root):
        raise DirtyWorktree(f"{dst} is checked out with uncommitted changes: commit or stash "
                            "them, then promote again.")
    main = repo.branch_target(trusted_ref(g).removeprefix("refs/heads/"))
    # what the source changed since it left main (the merge base), not main's tip against it:
    # files main gained later (a `track` run record) are not the source's changes
    base = (repo.merge_base(main, src_sha) or main) if main else None
    if base and base != src_sha:
        verdict = check_range(g, f"{base}..{src_sha}", src)
        if not verdict.ok:
            raise VerdictError(f"{src} fails `branchml check`, nothing was promoted: "
                               + "; ".join(v.message for v in verdict.violations[:5]))
    report = PromoteReport(src, dst, src_sha, gates=gates, dry_run=dry_run)
    with repo.writer(dry_run) as w:  # a dry run's tree and commit are thrown away
        tree, before, after = _promoted_tree(w, trusted.policy, src_sha, dst_sha)
        report.changed = sorted(p for p in set(before) | set(after)
                                if before.get(p) != after.get(p))
        report.added = [p for p in report.changed if p not in before]
        report.deleted = [p for p in report.changed if p not in after]
        if tree == w.pg[dst_sha].tree.id:
            report.up_to_date = True
            return report
        message = (f"branchml promote {src} into {dst}\n\n{len(report.changed)} code file(s) "
                   f"changed\n\nPromoted-From: {src} {src_sha}\n")
        report.commit = w.commit_tree(tree, [dst_sha], message)
    if argvs and not dry_run:
        _run_gates(repo, report.commit, list(zip(report.gates, argvs, strict=True)))
    if not dry_run:
        steps: list[Step] = [RefUpdate(f"refs/heads/{dst}", dst_sha, report.commit, "(promote)")]
        if repo.head_branch() == dst:
            steps.append(Checkout(dst))
        apply.apply(repo, Plan(f"promote {src} {dst}", steps))
    g.close()
    return report


def _check_order(policy: Any, cfg: dict[str, Any], src: str, dst: str) -> None:
    s, d = policy.branch_type(src), policy.branch_type(dst)
    order: dict[str, list[str]] = cfg.get("order") or {"dev/*": ["stable/*"]}
    allowed = any(pattern_matches(sp, src) and any(pattern_matches(dp, dst) for dp in dps)
                  for sp, dps in order.items())
    if s is None or d is None or d.kind is not BranchKind.STABLE or not allowed:
        rules = "; ".join(f"{k} -> {', '.join(v)}" for k, v in order.items())
        raise UsageError(f"promoting {src} into {dst} is not allowed by promote.order ({rules}).")


def _promoted_tree(repo: objectstore.Repo, policy: Any, src: str, dst: str
                   ) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """DST's tree with its code paths replaced by exactly SRC's code paths, and the code
    paths (path -> blob id) before and after."""
    import pygit2

    index = pygit2.Index()
    index.read_tree(repo.pg[dst].tree)
    before = {e.path: e.id for e in index if policy.classify(e.path) is PathClass.CODE}
    for path in before:
        index.remove(path)
    src_index = pygit2.Index()
    src_index.read_tree(repo.pg[src].tree)
    after = {}
    for e in src_index:
        if policy.classify(e.path) is PathClass.CODE:
            index.add(pygit2.IndexEntry(e.path, e.id, e.mode))
            after[e.path] = e.id
    return index.write_tree(repo.pg), before, after


def gate_argv(gate: str) -> list[str]:
    """A `promote.require` entry as an argument list (shell words, never a shell)."""
    try:
        argv = shlex.split(gate)
    except ValueError as e:  # an unclosed quote or a trailing backslash
        raise UsageError(f"promote.require: the gate {gate!r} cannot be read ({e}); fix its "
                         "quoting in branchml.yaml on main.") from None
    if not argv:
        raise UsageError(f"promote.require: the gate {gate!r} is blank; give a command or "
                         "remove it from branchml.yaml on main.")
    return argv


def _run_gates(repo: objectstore.Repo, commit: str, gates: list[tuple[str, list[str]]]) -> None:
    run_gates_at(repo.common_dir, repo.root or repo.common_dir, commit, gates,
                 "the promoted code, nothing was promoted", "promote.require")


def run_gates_at(common_dir: Path, cwd: Path, commit: str, gates: list[tuple[str, list[str]]],
                 subject: str, where: str) -> None:
    """Each gate runs in a temporary worktree of `commit` (inside the git dir), so it sees
    that commit's files and nothing else; the first that fails stops the rest. `subject`
    names the code in the sentence, `where` the setting that lists the gates."""
    base = common_dir / "branchml" / "gates"
    base.mkdir(parents=True, exist_ok=True)
    wt = Path(tempfile.mkdtemp(dir=base, prefix="gates-"))
    try:
        proc.run(["git", "worktree", "add", "--detach", "--force", str(wt), commit], cwd=cwd)
        for gate, argv in gates:
            try:
                r = proc.run(argv, cwd=wt, check=False)
            except OSError as e:  # a folder, a file that is not executable
                raise UsageError(f"the gate `{gate}` cannot be run ({e.strerror}) on "
                                 f"{subject}; name a program in {where}.") from None
            if r.returncode != 0:
                said = (r.stdout + r.stderr).decode(errors="replace").strip().splitlines()
                raise VerdictError(f"the gate `{gate}` failed (exit {r.returncode}) on "
                                   f"{subject}" + (f": {said[-1]}" if said else "."))
    finally:
        proc.run(["git", "worktree", "remove", "--force", str(wt)], cwd=cwd, check=False)
        proc.run(["git", "worktree", "prune"], cwd=cwd, check=False)
