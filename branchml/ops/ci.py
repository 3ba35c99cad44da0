"""What the CI templates (templates/ci/) run beyond `branchml check --range A..B`.

A CI runner has a detached checkout of the pushed commit and the remote's branches as
remote-tracking refs, and nothing else. Two things it needs that a hook does not:

- a new branch (the event's `before` is git's all-zeros id) judged as the server's
  pre-receive judges one: from where it leaves its parent's, or its own type's, first-parent
  history, with the remote's branches standing for the server's; never "whatever the pushed
  commit shares with some branch" (a dev commit is not a stable commit); and a pushed tag
  judged as the server judges it (`--ref`);
- the `promote.require` gates of the trusted main, run on a commit's code (the stable
  branch's job). They run repository code by design, like `branchml promote`, so only on a
  runner, never in a hook or on a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.core.names import check_branch_name
from branchml.errors import UsageError
from branchml.ops.check import CheckResult
from branchml.ops.push_check import PushedRef, RefView, check_push
from branchml.ops.trusted import judging, load_trusted, trusted_ref
from branchml.repo.reader import Git

ZERO = "0" * 40


def check_new_branch(git: Git, tip: str, branch: str | None) -> CheckResult:
    """`check --range 0000..B --branch X`: X is new on the remote with tip B; judged against
    the other branches as the remote (then the local repository) has them."""
    _ = git.layout  # "not a repository" first
    name = check_branch_name(branch or git.current_branch() or "")
    result = check_ref(git, f"refs/heads/{name}", ZERO, tip)
    result.branch = name
    return result


def check_ref(git: Git, ref: str, old: str, new: str) -> CheckResult:
    """`check --range OLD..NEW --ref REF`: the push that moved REF from OLD to NEW, judged as
    the server's pre-receive judges it (a release tag: created once, its manifest verified
    against a commit in a stable branch's own history; any other ref: refs.allow), with the
    remote's branches and the local tags as the server's refs before the push."""
    if not ref.startswith("refs/") or ".." in ref:
        raise UsageError(f"--ref {ref!r} is not a full ref name; give e.g. refs/tags/acme-v1.")
    update = PushedRef(ref, _object(git, old, known=False), _object(git, new, known=True))
    before = _refs_before(git, ref)
    return check_push(git, [update], RefView(before, [update]), [trusted_ref(git)])


def _object(git: Git, rev: str, known: bool) -> str:
    """The object `rev` names, not peeled (a tag push moves a ref to a tag object). An old
    side may be an id this clone never got (a moved tag's old object): kept as given."""
    if set(rev) == {"0"}:
        return ZERO
    found = None if rev.startswith("-") else git.cat.info(rev)
    if found is not None:
        return found[0]
    if not known and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", rev):
        return rev
    raise UsageError(f"{rev!r} is not a commit in this repository; check the --range.")


def _refs_before(git: Git, ref: str) -> dict[str, str]:
    """The server's refs before the push, as a CI clone knows them: the remote's branches
    (origin, or the only remote), local branches over them (a CI checkout has none), the
    tags and deploy refs fetched; `ref` itself left out."""
    names = git.out("remote").split()
    remote = "origin" if "origin" in names else names[0] if len(names) == 1 else None
    view: dict[str, str] = {}
    if remote:
        prefix = f"refs/remotes/{remote}/"
        view = {f"refs/heads/{r.removeprefix(prefix)}": s for r, s in git.refs(prefix).items()
                if r != f"{prefix}HEAD"}
    view.update({**git.refs("refs/heads/"), **git.refs("refs/tags/"),
                 **git.refs("refs/deploy/")})
    view.pop(ref, None)
    return view


@dataclass
class GatesReport:
    commit: str
    policy: str
    gates: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": True, **self.__dict__}


def run_gates(path: Path, rev: str = "HEAD") -> GatesReport:
    """Each `promote.require` gate of the trusted main (never of the commit being tested),
    run in a temporary worktree of `rev`'s commit; the first that fails is exit 1."""
    from branchml.ops.promote import gate_argv  # pygit2 and all: not for the range check

    g = Git(path)
    try:
        with judging(False):  # an invalid trusted config fails closed here
            trusted = load_trusted(g, [trusted_ref(g)])
        gates = [str(x) for x in (trusted.config.get("promote") or {}).get("require") or []]
        argvs = [gate_argv(gate) for gate in gates]  # refused before anything runs
        commit = g.resolve(f"{rev}^{{commit}}") if not rev.startswith("-") else None
        if commit is None:
            raise UsageError(f"{rev!r} is not a commit in this repository.")
        if gates:
            _run_in_worktree(g, commit, list(zip(gates, argvs, strict=True)))
        return GatesReport(commit, trusted.source, gates)
    finally:
        g.close()


def _run_in_worktree(g: Git, commit: str, gates: list[tuple[str, list[str]]]) -> None:
    """A worktree of the commit itself: the gates see its files, not whatever else the
    runner's folder holds (git-lfs's smudge runs when its filters are installed)."""
    from branchml.ops.promote import run_gates_at

    run_gates_at(g.layout.common_dir, g.layout.toplevel or g.layout.common_dir, commit, gates,
                 f"the code of {commit[:10]}", "promote.require on main")
