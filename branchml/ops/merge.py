"""`branchml merge SRC --into DST` and `branchml pull SRC DST`: merges built in memory.

Facts -> tree merge by path class (treemerge) -> the result judged by the same rules as any
commit on DST -> one merge commit -> DST moved by compare-and-swap -> the worktree updated
only when DST is checked out (and was clean: checked before anything is built).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.content import strategies
from branchml.content.treemerge import MergeReport, TreeMerger, Validator
from branchml.core.carry import carries, pairs_of
from branchml.core.changes import Change, CommitFacts
from branchml.core.model import PathClass
from branchml.core.names import check_branch_name
from branchml.core.plan import Checkout, Plan, RefUpdate, Step
from branchml.core.rows import RowFormat, format_for
from branchml.core.rules import CarryCheck, judge_commits
from branchml.errors import DirtyWorktree, UsageError, VerdictError
from branchml.ops.analysis import only_client
from branchml.ops.carrycheck import carry_check, last_pull
from branchml.ops.check import make_probe
from branchml.ops.trusted import load_trusted, main_branch_name, trusted_ref
from branchml.repo import apply, objectstore, worktree
from branchml.repo.reader import Git

# (repository, LFS store, trusted config) -> a validator of new items (`pull --validate`)
ValidatorFactory = Callable[[Any, strategies.Store, dict[str, Any]], Validator]

DEFAULT_RULE = {"data": "append", "models": "overwrite", "tracking": "overwrite",
                "code": "text", "docs": "text", "config": "text"}


@dataclass
class MergeResult:
    src: str
    dst: str
    pull: bool
    dry_run: bool
    commit: str = ""
    up_to_date: bool = False
    report: MergeReport = field(default_factory=MergeReport)
    strategies: dict[str, str] = field(default_factory=dict)
    # every appended file, whatever its format: its format's label, and per label
    # {"files": n, "rows": m} (a JSON array's rows are its items)
    appended_formats: dict[str, str] = field(default_factory=dict)
    appended_by_format: dict[str, dict[str, int]] = field(default_factory=dict)
    # `pull --validate`: exactly the report committed beside the data (every dropped file and
    # row, new files' and appended ones'), and its path
    validation: dict[str, Any] | None = None
    validation_path: str = ""
    # up to date because what the source adds is other clients' monitored data only, which
    # an analysis branch never takes (its message says so rather than "has everything")
    only_other_clients: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "pull": self.pull, "dry_run": self.dry_run,
                "commit": self.commit, "up_to_date": self.up_to_date,
                "strategies": self.strategies, **self.report.to_dict(),
                "appended_formats": self.appended_formats,
                "appended_by_format": self.appended_by_format,
                "only_other_clients": self.only_other_clients,
                **({"validation": self.validation, "validation_path": self.validation_path}
                   if self.validation is not None else {})}


FORMAT_LABELS = {RowFormat.CSV: "CSV", RowFormat.TSV: "TSV", RowFormat.JSONL: "JSON lines",
                 RowFormat.TEXT: "text lines", RowFormat.JSON: "JSON array",
                 RowFormat.SQLITE: "SQLite", RowFormat.PARQUET: "Parquet"}


def format_label(path: str, formats: dict[str, str] | None) -> str:
    fmt = format_for(path, formats)
    return FORMAT_LABELS[fmt] if fmt is not None else "files"


def unit(label: str) -> str:
    return "item(s)" if label == "JSON array" else "row(s)"


def by_format(appended: dict[str, int], labels: dict[str, str]) -> dict[str, dict[str, int]]:
    """Files and rows appended per format."""
    out: dict[str, dict[str, int]] = {}
    for path, rows in appended.items():
        counts = out.setdefault(labels[path], {"files": 0, "rows": 0})
        counts["files"] += 1
        counts["rows"] += rows
    return out


def said_by_format(counts: dict[str, dict[str, int]]) -> str:
    """"2 row(s) to 1 CSV file(s), 3 item(s) to 1 JSON array file(s)"."""
    return ", ".join(f"{c['rows']} {unit(label)} to {c['files']} {label} file(s)"
                     for label, c in sorted(counts.items()))


def merge(path: Path, src: str, dst: str | None, pull: bool = False, dry_run: bool = False,
          validator_factory: ValidatorFactory | None = None) -> MergeResult:
    g = Git(path)
    try:
        return _merge(g, path, src, dst, pull, dry_run, validator_factory)
    finally:
        g.close()  # its `git cat-file` process, whichever way the merge ended


def _merge(g: Git, path: Path, src: str, dst: str | None, pull: bool, dry_run: bool,
           validator_factory: ValidatorFactory | None) -> MergeResult:
    repo = objectstore.Repo(path)
    if not dry_run:
        apply.prepare(repo)  # a killed run's files are finished before the dirty check
    dst = check_branch_name(dst or repo.head_branch() or "")
    check_branch_name(src)
    ours_sha, theirs_sha = _tip(repo, dst, "DST" if pull else "--into"), _tip(repo, src, "SRC")
    trusted = load_trusted(g, [trusted_ref(g), "HEAD"])
    checked_out = repo.head_branch() == dst and repo.root is not None
    apply.not_busy(repo, dst)
    if checked_out and repo.root is not None and worktree.dirty(repo.root):
        raise DirtyWorktree(f"{dst} is checked out with uncommitted changes: commit or stash "
                            "them, then run the command again.")
    result = MergeResult(src, dst, pull, dry_run)
    base_sha = repo.merge_base(ours_sha, theirs_sha)
    if base_sha == theirs_sha or ours_sha == theirs_sha:
        result.up_to_date = True
        return result
    cfg = trusted.config
    g.close()  # config read: its `git cat-file` (~4 MiB) need not live through the merge
    cfg_rule = {**DEFAULT_RULE, **dict(cfg.get("merge") or {})}
    rule = {PathClass(c): (s if not pull or c == "data" else "ours") for c, s in cfg_rule.items()}
    result.strategies = {str(c): s for c, s in rule.items() if s != "ours"}
    with repo.writer(dry_run) as w:  # a dry run's objects (git-lfs ones too) are thrown away
        commit = _build(g, w, repo, result, trusted, cfg, rule, (ours_sha, theirs_sha, base_sha),
                        validator_factory)
    if commit is None or dry_run:
        return result
    verb = "pull" if pull else "merge"
    steps: list[Step] = [RefUpdate(f"refs/heads/{dst}", ours_sha, commit, f"({verb} {src})")]
    if checked_out:
        steps.append(Checkout(dst))
    apply.apply(repo, Plan(f"{verb} {src} {dst}", steps))
    return result


def _build(g: Git, w: objectstore.Repo, repo: objectstore.Repo, result: MergeResult,
           trusted: Any, cfg: dict[str, Any], rule: dict[PathClass, str],
           shas: tuple[str, str, str | None], validator_factory: ValidatorFactory | None
           ) -> str | None:
    """The merge commit, its objects written in `w` (this repository, or a dry run's scratch
    store); None when the result is ours' tree (nothing to do)."""
    ours_sha, theirs_sha, base_sha = shas
    # a dry run's git processes run in the scratch store, so what they write stays there
    store = strategies.Store(w.common_dir, (repo.root or w.common_dir) if w is repo
                             else w.common_dir)
    validator: Validator | None = validator_factory(w, store, cfg) if validator_factory else None
    carry = carries(pairs_of(cfg), result.src, result.dst)  # pulls.carry_removals
    if carry:  # removals since the source's state at the last pull, as the checker proves
        base_sha = last_pull(g, ours_sha, theirs_sha) or base_sha
    merger = TreeMerger(w.pg, trusted.policy, rule, store, dict(cfg.get("formats") or {}),
                        validator, bool(cfg.get("widen_columns", False)), carry)
    ours_tree = w.pg[ours_sha].tree
    # an analysis branch ds/CLIENT takes only monitoring/CLIENT/ (base too: another client's
    # files in base and not in theirs must not read as removals)
    raw_base = w.pg[base_sha].tree if base_sha else None
    base_tree = only_client(w, trusted.policy, result.dst, raw_base)
    theirs_tree = only_client(w, trusted.policy, result.dst, w.pg[theirs_sha].tree)
    try:
        tree = merger.merge(base_tree, ours_tree, theirs_tree)
    finally:
        merger.cleanup()
    result.report = merger.report
    result.appended_formats = {p: format_label(p, cfg.get("formats"))
                               for p in merger.report.appended}
    result.appended_by_format = by_format(merger.report.appended, result.appended_formats)
    if validator is not None and hasattr(validator, "finish"):
        tree = validator.finish(w.pg, tree, theirs_sha, trusted.policy)
        result.validation = getattr(validator, "report", None)
        result.validation_path = str(getattr(validator, "report_path", ""))
    if tree == ours_tree.id:
        result.up_to_date = True
        result.only_other_clients = _tree_id(theirs_tree) == _tree_id(base_tree) \
            and _tree_id(w.pg[theirs_sha].tree) != _tree_id(raw_base)
        return None
    g.close()  # its `git cat-file` restarts and sees the objects just built (a dry run's too)
    _judge(g, trusted.policy, result.dst, w, ours_tree, tree, (ours_sha, theirs_sha),
           carry_check(g, trusted, result.dst))  # removals it carries, proven as check does
    result.commit = w.commit_tree(tree, [ours_sha, theirs_sha], _message(result, theirs_sha))
    return result.commit


def _tree_id(tree: Any) -> str | None:
    return str(tree.id) if tree is not None else None


def _tip(repo: objectstore.Repo, name: str, what: str) -> str:
    sha = repo.branch_target(name)
    if sha is None:
        raise UsageError(f"{what} {name!r} is not a branch here; see `git branch` (or fetch it).")
    return sha


def _judge(g: Git, policy: Any, dst: str, repo: objectstore.Repo, ours_tree: Any,
           tree: Any, parents: tuple[str, str] = ("", ""), carry: CarryCheck | None = None
           ) -> None:
    diff = ours_tree.diff_to_tree(repo.pg[tree])
    changes = tuple(
        Change(d.status_char() if d.status_char() in "AMDT" else "M",
               d.new_file.path if d.status_char() != "D" else d.old_file.path,
               str(d.old_file.id), str(d.new_file.id),
               f"{d.old_file.mode:06o}", f"{d.new_file.mode:06o}")
        for d in diff.deltas
    )
    facts = CommitFacts("", "merge", changes, parent=parents[0], merged=parents[1])
    found = judge_commits(policy, dst, [facts], make_probe(g), None, carry,
                          main_branch_name(g))
    if found:
        lines = "; ".join(v.message for v in found[:10])
        raise VerdictError(f"the result would break the rules of {dst}, nothing was changed: "
                           f"{lines}")


def _message(result: MergeResult, theirs: str) -> str:
    verb = "pull" if result.pull else "merge"
    r = result.report
    parts = []
    if r.added:
        parts.append(f"{len(r.added)} new file(s)")
    if r.appended:
        parts.append(f"{sum(r.appended.values())} row(s) appended to {len(r.appended)} file(s) "
                     f"({said_by_format(result.appended_by_format)})")
    if r.removed:  # pulls.carry_removals
        parts.append(f"{sum(r.removed.values())} row(s) removed as on {result.src}")
    if r.removed_files:
        parts.append(f"{len(r.removed_files)} file(s) removed as on {result.src}")
    if r.taken or r.merged:
        parts.append(f"{len(r.taken) + len(r.merged)} file(s) taken or merged")
    if result.validation is not None:
        rows = sum(result.validation.get("rows_dropped", {}).values())
        files = len(result.validation.get("dropped", {}))
        parts.append(f"validation: {files} file(s) dropped or cut, {rows} row(s) dropped")
    elif r.dropped:
        parts.append(f"{len(r.dropped)} item(s) dropped by validation")
    strategy = " ".join(f"{c}={s}" for c, s in result.strategies.items())
    trailer = "Pulled-From" if result.pull else "Merged-From"
    return (f"branchml {verb} {result.src} into {result.dst}\n\n"
            f"{', '.join(parts) or 'no content change'}\n\n"
            f"Branchml-Strategy: {strategy}\n{trailer}: {result.src} {theirs}\n")
