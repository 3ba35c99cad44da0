"""`branchml track [stable/x | TAG]`: a stable commit's tracking onto main, as one commit built
in memory: one record appended to `tracking/runs.jsonl`, the commit's tracking files under
`tracking/runs/<commit>/`, and its MLflow runs merged into main's `mlruns/`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from branchml.content import manifests
from branchml.core import mlruns
from branchml.core.plan import Checkout, Plan, RefUpdate, Step
from branchml.errors import DirtyWorktree, StateError
from branchml.ops.merge import _judge
from branchml.ops.release import _stable_commit, find, read_releases, tag_format
from branchml.ops.trusted import load_trusted, trusted_ref
from branchml.repo import apply, objectstore, worktree
from branchml.repo.reader import Git

RUN_LOG = "tracking/runs.jsonl"
RUN_DIR = "tracking/runs"



@dataclass
class TrackReport:
    commit: str
    branch: str
    tag: str | None
    already: bool = False
    files: list[str] = field(default_factory=list)
    mlflow_runs: list[str] = field(default_factory=list)
    mlflow_present: list[str] = field(default_factory=list)
    main_commit: str = ""
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def track(path: Path, src: str | None, dry_run: bool = False) -> TrackReport:
    g, repo = Git(path), objectstore.Repo(path)
    if not dry_run:
        apply.prepare(repo)  # a killed run's files are finished before the dirty check
    trusted = load_trusted(g, [trusted_ref(g), "HEAD"])
    fmt = tag_format(g)
    tag = src if src and fmt.parse(src) else None
    manifest = find(g, fmt, tag).manifest if tag else None
    commit, branch = ((manifest["commit"], manifest["branch"]) if manifest
                      else _stable_commit(g, trusted.policy, src))
    main_name = trusted_ref(g).removeprefix("refs/heads/")
    main = repo.branch_target(main_name)
    if main is None:
        raise StateError(f"there is no {main_name} branch to track onto.")
    report = TrackReport(commit, branch, tag, dry_run=dry_run)
    log = repo.read_file(main, RUN_LOG) or b""
    if any(json.loads(line).get("commit") == commit for line in log.splitlines() if line):
        report.already = True
        return report
    m = manifest or manifests.compute(g, trusted.policy, commit, branch)
    record = {"commit": commit, "branch": branch, "tag": tag,
              "time": datetime.now(UTC).isoformat(timespec="seconds"),
              "params": m["params"], "metrics": m["metrics"], "data": m["data"],
              "models": m["models"], "snapshot": m["snapshot"]}
    files = {RUN_LOG: log + (json.dumps(record, sort_keys=True) + "\n").encode()}
    for rel, data in _files(repo, commit, "tracking").items():
        if not rel.startswith(("runs.jsonl", "runs/")):
            files[f"{RUN_DIR}/{commit[:12]}/{rel}"] = data
    on_main = _files(repo, main, mlruns.STORE)
    metas = {p.split("/")[0]: d for p, d in on_main.items()
             if p.count("/") == 1 and p.endswith("/meta.yaml")}
    run_ids = {p.split("/")[1] for p in on_main if p.count("/") >= 2}
    source = {f"{mlruns.STORE}/{p}": d for p, d in _files(repo, commit, mlruns.STORE).items()}
    store = mlruns.plan_merge(source, metas, run_ids, _new_experiment_id(set(metas)))
    files.update(store.files)
    report.files = sorted(files)
    report.mlflow_runs, report.mlflow_present = store.runs_added, store.runs_present
    message = (f"branchml track {tag or branch} {commit[:10]}\n\n"
               f"Tracked-From: {branch} {commit}\n")
    with repo.writer(dry_run) as w:  # a dry run's objects are thrown away
        tree = w.tree_from_files(main, files)
        g.close()  # its `git cat-file` restarts and sees the objects just built
        _judge(g, trusted.policy, main_name, w, w.pg[main].tree, tree)
        report.main_commit = w.commit_tree(tree, [main], message)
    if dry_run:
        return report
    checked_out = repo.head_branch() == main_name
    apply.not_busy(repo, main_name)
    if checked_out and repo.root and worktree.dirty(repo.root):
        raise DirtyWorktree(f"{main_name} is checked out with uncommitted changes: commit or "
                            "stash them, then track again.")
    steps: list[Step] = [RefUpdate(f"refs/heads/{main_name}", main, report.main_commit,
                                   "(track)")]
    if checked_out:
        steps.append(Checkout(main_name))
    apply.apply(repo, Plan(f"track {commit[:10]}", steps))
    g.close()
    return report


def _files(repo: objectstore.Repo, commit: str, folder: str) -> dict[str, bytes]:
    """path (relative to `folder`) -> content, for every file under `folder` at `commit`."""
    try:
        tree = repo.pg[commit].tree[folder]
    except KeyError:
        return {}
    out: dict[str, bytes] = {}
    stack = [("", repo.pg[tree.id])]
    while stack:
        prefix, t = stack.pop()
        for e in t:
            if e.type_str == "tree":
                stack.append((f"{prefix}{e.name}/", repo.pg[e.id]))
            elif e.type_str == "blob":
                out[f"{prefix}{e.name}"] = bytes(repo.pg[e.id].data)
    return out


def _new_experiment_id(taken: set[str]) -> str:
    """MLflow-style: an 18-digit number, not used on main."""
    n = int(datetime.now(UTC).timestamp() * 1000) % 10**18
    while str(n) in taken:
        n += 1
    return str(n)


def runs(path: Path) -> list[dict[str, Any]]:
    """The run log on main, newest first; each run with `tags`: the releases on its commit,
    found now from the tags (one `for-each-ref`) rather than recorded, so a run tracked
    before its release was tagged is linked to it, and a record can never go stale."""
    g = Git(path)
    main = trusted_ref(g)
    found = g.show_file(main, RUN_LOG) if g.resolve(main) else None
    rows = [json.loads(line) for line in (found[1] if found else b"").splitlines() if line]
    on_commit = releases_by_commit(g) if rows else {}
    g.close()
    for r in rows:
        recorded = [r["tag"]] if isinstance(r.get("tag"), str) else []
        r["tags"] = recorded + [t for t in on_commit.get(r.get("commit", ""), [])
                                if t not in recorded]
        r["tag"] = r["tags"][0] if r["tags"] else None
    return rows[::-1]


def releases_by_commit(g: Git) -> dict[str, list[str]]:
    """commit -> the release tags on it, in release order: a tag whose name is a release
    name of the trusted tag format and whose manifest is that release's own (its tag,
    client and number are the name's, its commit the one the tag points at). Any other tag
    with a manifest block (`{}`, or a release's manifest copied) is no release of the run."""
    out: dict[str, list[str]] = {}
    for rel in read_releases(g, tag_format(g)):
        m = rel.manifest
        if m is not None and (m.get("tag"), m.get("client"), m.get("n"), m.get("commit")) \
                == (rel.tag, rel.client, rel.n, rel.commit):
            out.setdefault(rel.commit, []).append(rel.tag)
    return out
