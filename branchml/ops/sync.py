"""`branchml sync`: the remote's typed branches, release tags and deploy refs brought here.

Facts (ls-remote, objects fetched) -> a plan of ref moves -> one apply (compare-and-swap, op
log, the checked-out branch's files updated by git). Never rewritten: a local branch that
diverged from the remote, a release tag the remote holds with another object, a deploy ref
the remote rewrote; each is reported with what resolves it. Never lost: a branch deleted on
the remote is deleted here only when it is not protected and every commit on it was pushed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.core.model import BranchKind
from branchml.core.names import check_remote_name
from branchml.core.naming import TagFormat
from branchml.core.plan import Checkout, ConfigSet, Plan, RefUpdate, Step
from branchml.core.policy import Policy
from branchml.errors import StateError
from branchml.ops import remoterefs, syncjudge
from branchml.ops.push_check import PushedRef
from branchml.ops.remoterefs import RemoteRefs, changes_since, primary_tag
from branchml.ops.trusted import load_trusted, trusted_ref
from branchml.repo import apply, guards, objectstore, remote, worktree
from branchml.repo.reader import Git


@dataclass
class SyncReport:
    remote: str
    dry_run: bool = False
    branches: list[dict[str, Any]] = field(default_factory=list)  # one per local branch touched
    tags: list[dict[str, Any]] = field(default_factory=list)
    deploys: list[dict[str, Any]] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)  # on the remote since the last sync
    skipped: list[dict[str, str]] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    since: str | None = None
    commands_changed: list[str] = field(default_factory=list)  # main's, by this sync

    @property
    def refused(self) -> bool:
        """A branch the remote moved was kept here because the checker refused the move."""
        return any(e["action"] == "refused" for e in self.branches)

    @property
    def attention(self) -> bool:
        """Something here needs a person: a branch diverged, kept or refused, a tag or
        deploy ref the remote rewrote."""
        return any(e.get("command") or e["action"] in ("kept", "not-moved", "refused")
                   for e in self.branches) or any(
            e["action"] in ("moved-on-remote", "rewritten-on-remote") for e in
            self.tags + self.deploys)

    def to_dict(self) -> dict[str, Any]:
        return {"remote": self.remote, "dry_run": self.dry_run, "since": self.since,
                "attention": self.attention, "refused": self.refused,
                "commands_changed": self.commands_changed, "branches": self.branches,
                "tags": self.tags, "deploys": self.deploys, "changes": self.changes,
                "skipped": self.skipped, "steps": self.steps}


def sync(path: Path, name: str = "origin", dry_run: bool = False) -> SyncReport:
    check_remote_name(name)
    repo = objectstore.Repo(path)
    if not dry_run:
        apply.prepare(repo)
    g = Git(path)
    url = remote.url_of(path, name)
    trusted = load_trusted(g, [trusted_ref(g), "HEAD"])
    fmt = remoterefs.tag_format_of(trusted.config)
    g.close()
    view = remoterefs.classify(remote.ls_remote(path, name), trusted.policy, fmt)
    types = remoterefs.fetch_objects(path, name, view)
    view = remoterefs.only_commits(path, view, types)
    g = Git(path)
    try:
        state = remoterefs.last_state(g.layout.common_dir, name)
        before = state[0] if state else remoterefs.local_state(g, name, fmt)
        report = SyncReport(name, dry_run, since=state[1] if state else None,
                            skipped=view.skipped)
        steps = Planner(g, repo, name, trusted.policy, view, types, report).plan(fmt)
        report.changes = changes_since(g, trusted.policy, view, before)
        report.commands_changed = syncjudge.main_commands(g, report.branches)
    finally:
        g.close()
    report.steps = [s.describe() for s in steps]
    if not dry_run:
        if steps:
            apply.apply(repo, Plan(f"sync {name}", steps))
        remoterefs.save_state(repo.common_dir, name, url, view.flat())
    return report


class Planner:
    """The ref moves that bring this repository up to the remote, and the report of each."""

    def __init__(self, g: Git, repo: objectstore.Repo, name: str, policy: Policy,
                 view: RemoteRefs, types: dict[str, str], report: SyncReport,
                 judge: bool = True) -> None:
        self.g, self.repo, self.name, self.policy = g, repo, name, policy
        self.view, self.types, self.report = view, types, report
        self.judge = judge  # clone: False (nothing local to judge against, docs/teams.md)
        self.steps: list[Step] = []
        self.moves: list[tuple[str, str | None, str, dict[str, Any]]] = []
        self.head = repo.head_branch()
        self.refs = g.refs("refs/")  # read once: every decision is against this snapshot

    def plan(self, fmt: TagFormat) -> list[Step]:
        self._missing()
        for branch, sha in self.view.heads.items():
            self._tracking(branch, sha)
            self._branch(branch, sha)
        self._judged()
        self._pruned()
        self._tags(fmt)
        self._deploys()
        # installers first, then the one ref transaction, then the files (apply's order)
        configs = [s for s in self.steps if isinstance(s, ConfigSet)]
        refs = [s for s in self.steps if isinstance(s, RefUpdate)]
        return [*configs, *refs, *(s for s in self.steps if isinstance(s, Checkout))]

    def _missing(self) -> None:
        gone = sorted(r for r, s in self.view.flat().items() if self.types.get(s) == "missing")
        if gone:
            raise remote.RemoteError(
                f"{gone[0]} moved on {self.name} while it was being fetched; nothing was "
                "changed here: run the command again.")

    def _ref(self, ref: str) -> str | None:
        return self.refs.get(ref)

    def _under(self, prefix: str) -> dict[str, str]:
        return {r.removeprefix(prefix): s for r, s in self.refs.items() if r.startswith(prefix)}

    def _tracking(self, branch: str, sha: str) -> None:
        ref = f"refs/remotes/{self.name}/{branch}"
        old = self._ref(ref)
        if old != sha:
            self.steps.append(RefUpdate(ref, old, sha, f"({self.name}'s {branch})"))

    def _branch(self, branch: str, sha: str) -> None:
        ref = f"refs/heads/{branch}"
        local = self._ref(ref)
        entry: dict[str, Any] = {"branch": branch, "old": local, "new": sha}
        if local == sha:
            return
        if local is None:
            entry["action"] = "created"
        elif self.g.is_ancestor(local, sha):
            entry["action"] = "fast-forwarded"
            why = self._blocked(branch, local, sha)
            if why:
                entry.update(action="not-moved", new=local, why=why)
                self.report.branches.append(entry)
                return
        else:
            self.report.branches.append(self._apart(branch, local, sha, entry))
            return
        self.moves.append((branch, local, sha, entry))
        self.report.branches.append(entry)

    def _judged(self) -> None:
        """Each move the checker accepts becomes a step; a refused one keeps the local
        branch where it is (its remote-tracking ref still moves, to inspect it)."""
        refused = {}
        if self.judge and self.moves:
            updates = [PushedRef(f"refs/heads/{b}", old or syncjudge.ZERO, new)
                       for b, old, new, _ in self.moves]
            heads = [s for r, s in self.refs.items() if r.startswith("refs/heads/")]
            syncjudge.fetch_grown_objects(self.g, self.g.cwd, updates, heads)
            refused = syncjudge.refusals(self.g, updates, self.refs, [trusted_ref(self.g)])
        for branch, local, sha, entry in self.moves:
            v = refused.get(f"refs/heads/{branch}")
            if v is not None:
                entry.update(action="refused", new=local, why=syncjudge.reason(v),
                             inspect=syncjudge.inspect_command(branch, local, self.name))
                continue
            if local is None:
                self._track(branch)
            self.steps.append(RefUpdate(f"refs/heads/{branch}", local, sha,
                                        f"(sync from {self.name})"))
            if branch == self.head and self.repo.root is not None:
                self.steps.append(Checkout(branch))

    def _track(self, branch: str) -> None:
        """`git branch --track`'s config: a plain `git pull` and `git status` know the
        remote branch."""
        for key, value in (("remote", self.name), ("merge", f"refs/heads/{branch}")):
            old = self.g.config(f"branch.{branch}.{key}")
            if old != value:
                self.steps.append(ConfigSet(f"branch.{branch}.{key}", value, old))

    def _blocked(self, branch: str, old: str, new: str) -> str:
        """Why `branch` cannot move now ("" when it can): another command is working on it,
        or it is checked out and its files could not follow."""
        try:
            apply.not_busy(self.repo, branch)
            if branch == self.head and self.repo.root is not None:
                if worktree.dirty(self.repo.root):
                    return ("checked out with uncommitted changes: commit or stash them, then "
                            "run `branchml sync` again")
                guards.worktree_ready(self.repo.root, self.repo.git_dir, branch, old, new)
        except StateError as e:
            return str(e)
        return ""

    def _apart(self, branch: str, local: str, sha: str, entry: dict[str, Any]
               ) -> dict[str, Any]:
        ahead = self._count(sha, local)
        if self.g.is_ancestor(sha, local):
            return {**entry, "new": local, "action": "ahead", "ahead": ahead,
                    "why": f"{ahead} commit(s) not on {self.name}: `branchml push` sends them"}
        return {**entry, "new": local, "action": "diverged", "ahead": ahead,
                "behind": self._count(local, sha),
                "why": f"{branch} and {self.name}/{branch} both have commits the other lacks; "
                       "nothing was rewritten", "command": self.resolve_command(branch)}

    def resolve_command(self, branch: str) -> str:
        """What joins a diverged branch with the remote's without rewriting either side."""
        theirs = f"{self.name}/{branch}"
        bt = self.policy.branch_type(branch)
        if bt is not None and not bt.protected and bt.kind in (BranchKind.CODE,
                                                               BranchKind.ANALYSIS):
            # unpushed work on a branch of one's own: replay it on the shared history
            return f"git switch {branch} && git rebase {theirs} && branchml push"
        # everything else keeps its history: a merge whose first parent is the remote's tip,
        # so the remote's bytes stay a prefix of every append-only file (a merge on top of
        # the local tip would put the local rows first, and the push would be refused);
        # git runs branchml's merge drivers by path class, and the local tip stays inside
        return (f"git switch --detach {theirs} && git merge --no-edit {branch} && "
                f"git switch -C {branch} && branchml push")

    def _count(self, a: str, b: str) -> int:
        return int(self.g.out("rev-list", "--count", f"{a}..{b}") or 0)

    def _pruned(self) -> None:
        """Branches the remote deleted: the remote-tracking ref goes; the local branch goes
        too only when it is not protected, not checked out, and holds nothing unpushed."""
        prefix = f"refs/remotes/{self.name}/"
        tracked = {b: s for b, s in self._under(prefix).items() if b != "HEAD"}
        for branch, last in sorted(tracked.items()):
            if f"refs/heads/{branch}" in self.view.listed:
                continue
            self.steps.append(RefUpdate(f"{prefix}{branch}", last, None, "(deleted there)"))
            local = self._ref(f"refs/heads/{branch}")
            if local is not None and self.policy.branch_type(branch) is not None:
                self.report.branches.append(self._prune_local(branch, local, last))

    def _prune_local(self, branch: str, local: str, last: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"branch": branch, "old": local, "new": local,
                                 "action": "kept"}
        bt = self.policy.branch_type(branch)
        if bt is not None and bt.protected:
            return {**entry, "why": f"deleted on {self.name}; {branch} is protected, so it "
                                    "is never deleted here"}
        if local != last and not self.g.is_ancestor(local, last):
            n = self._count(last, local)
            return {**entry, "why": f"deleted on {self.name}, but {n} commit(s) here were "
                                    "never pushed: push them or delete the branch yourself"}
        if branch == self.head:
            return {**entry, "why": f"deleted on {self.name}; it is checked out: switch to "
                                    "another branch and sync again"}
        self.steps.append(RefUpdate(f"refs/heads/{branch}", local, None, "(deleted there)"))
        return {**entry, "new": None, "action": "deleted"}

    def _tags(self, fmt: TagFormat) -> None:
        here = self._under("refs/tags/")
        for tag, sha in self.view.tags.items():
            local = here.get(tag)
            if local == sha:
                continue
            entry = {"tag": tag, "local": local, "remote": sha}
            if local is not None:  # release tags never move: the remote's copy was rewritten
                self.report.tags.append({**entry, "action": "moved-on-remote", "why": (
                    f"{self.name} holds {tag} with another object; the tag here is kept "
                    "(release tags never move): ask who rewrote it on the remote")})
            elif self.types.get(sha) != "tag":
                self.report.tags.append({**entry, "action": "skipped",
                                         "why": "not an annotated tag"})
            else:
                self.steps.append(RefUpdate(f"refs/tags/{tag}", None, sha, "(release)"))
                self.report.tags.append({**entry, "action": "new"})
        for tag, sha in sorted(here.items()):
            if f"refs/tags/{tag}" not in self.view.listed and fmt.parse(tag):
                self.report.tags.append({"tag": tag, "local": sha, "remote": None,
                                         "action": "not-on-remote"})

    def _deploys(self) -> None:
        here = self._under("refs/deploy/")
        for client, sha in self.view.deploys.items():
            local = here.get(client)
            if local == sha:
                continue
            entry = {"client": client, "old": local, "new": sha}
            if self.types.get(sha) != "commit":
                self.report.deploys.append({**entry, "action": "skipped",
                                            "why": "not a commit"})
            elif local is None or self.g.is_ancestor(local, sha):
                self.steps.append(RefUpdate(f"refs/deploy/{client}", local, sha, "(deploy)"))
                self.report.deploys.append({**entry, "action": "moved" if local else "new",
                                            "primary": primary_tag(self.g, sha)})
            elif self.g.is_ancestor(sha, local):
                self.report.deploys.append({**entry, "action": "ahead", "why": (
                    "deployments here are not on the remote yet: `branchml push` sends them")})
            else:  # deploy refs only move forward: a rewrite is kept out of the audit trail
                self.report.deploys.append({**entry, "action": "rewritten-on-remote", "why": (
                    f"{self.name}'s refs/deploy/{client} does not continue the history here; "
                    "the local deployment history is kept")})
        for client in sorted(set(here) - set(self.view.deploys)):
            if f"refs/deploy/{client}" not in self.view.listed:
                self.report.deploys.append({"client": client, "old": here[client],
                                            "new": here[client], "action": "not-on-remote"})
