"""The lineage fields of a release manifest (`promotion`, `pulled_from`, each data folder's
`from`), read from the commit's own history and proven against the repository.

A manifest's lineage is a claim about other commits, so recomputing it from the released
commit is not enough: the trailer it comes from must also be true. A promotion's trailer is
true when the commit it names is here and holds exactly the code of the commit carrying the
trailer (what `branchml promote` writes, and what the server checked when stable moved); a
pull's is true when the commit it names is the second parent of the pull's merge commit AND on
the branch the trailer names, a typed branch of the trusted config that is here (anyone can
write a trailer: `Pulled-From: origin/raw <any commit>` on a hand-made merge proves nothing).
When the named commit or branch is not here (a branch deleted since, not fetched, a shallow
clone), the claim cannot be proven: it is "unverified", never "verified".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from branchml.content.snapshot import code_digest
from branchml.core.model import BranchKind, PathClass
from branchml.core.names import ref_name_problem
from branchml.core.policy import Policy
from branchml.repo import proc
from branchml.repo.reader import Git

WALK = 500  # first-parent commits searched for a trailer (the same at tag and verify time)
TRAILERS = {"promotion": "Promoted-From", "pulled_from": "Pulled-From"}


class Trailer(NamedTuple):
    """The newest `key: <branch> <sha>` trailer on a first-parent history."""

    carrier: str  # the commit whose message holds it
    branch: str
    commit: str

    def value(self) -> dict[str, str]:
        return {"branch": self.branch, "commit": self.commit}


def newest(git: Git, commit: str, key: str) -> Trailer | None:
    """The newest `key` trailer on the first-parent history of `commit` (WALK commits)."""
    out = proc.output(["git", "log", "--first-parent", "-n", str(WALK),
                       f"--format=%H%x1f%(trailers:key={key},valueonly,separator=%x1d)",
                       commit], cwd=git.cwd)
    for line in out.splitlines():
        sha, _, values = line.partition("\x1f")
        value = values.split("\x1d")[-1].strip()
        if value:
            branch, _, named = value.partition(" ")
            return Trailer(sha, branch, named)
    return None


def _shallow(git: Git) -> bool:
    return git.out("rev-parse", "--is-shallow-repository", check=False).strip() == "true"


def _is_commit(git: Git, sha: str) -> bool:
    return len(sha) >= 40 and git.object_type(sha) == "commit"


def _promotion(git: Git, policy: Policy, t: Trailer) -> tuple[str, str]:
    """("", "") when proven, else ("differs" or "unverified", why)."""
    if not _is_commit(git, t.commit):
        return "unverified", (f"the promoted commit {t.commit[:10]} of {t.branch} is not in "
                              "this repository (its branch deleted, or not fetched): fetch "
                              "it to prove the promotion")
    if code_digest(git, policy, t.carrier) != code_digest(git, policy, t.commit):
        return "differs", (f"the promotion commit {t.carrier[:10]} does not hold the code of "
                           f"{t.commit[:10]}, the commit its trailer names")
    return "", ""


def _pull(git: Git, t: Trailer) -> tuple[str, str]:
    parents = git.out("rev-list", "--no-walk", "--parents", t.carrier, "--").split()[1:]
    if len(parents) >= 2 and parents[1] == t.commit:
        return "", ""
    if len(parents) < 2 and _shallow(git):
        return "unverified", (f"the parents of the pull {t.carrier[:10]} are not in this "
                              "shallow clone: fetch its history to prove where data came from")
    return "differs", (f"the commit {t.carrier[:10]} carrying Pulled-From is not a merge of "
                       f"{t.commit[:10]}, the commit its trailer names")


def _source_tips(git: Git, branch: str, tips: Mapping[str, str] | None) -> list[str]:
    """Where `branch` is here: `tips` when given (a push judged against the refs as they
    will be after it), else refs/heads/<branch> and refs/remotes/origin/<branch>. The
    remote-tracking ref counts because it is only what `origin` holds, whose hooks judged
    that branch; a local branch is no harder to move than it, and a clone made by `git
    clone` holds the data branches there only (verify reads a release's branch the same)."""
    if tips is not None:
        return [tips[branch]] if branch in tips else []
    found = (git.resolve(f"refs/heads/{branch}"), git.resolve(f"refs/remotes/origin/{branch}"))
    return [tip for tip in found if tip is not None]


FIRST_PARENTS = 1_000_000  # first-parent commits read below a tip to find a hop's commit


def own_history(git: Git, tip: str, commit: str) -> bool | None:
    """Whether `commit` (an ancestor of `tip`) is on `tip`'s first-parent history, the only
    history that vouches for a commit (the carry check and new branches use the same rule):
    a commit some merge's second parent brought in was never the branch's own. The walk
    stops at `commit` (its parents are excluded), so it costs the commits above it; None
    when FIRST_PARENTS commits were read without reaching it."""
    args = ["git", "rev-list", "--first-parent", f"--max-count={FIRST_PARENTS}", tip,
            "--not", f"{commit}^@", "--"]
    p = proc.popen(args, cwd=git.cwd, stdin=False)
    assert p.stdout is not None
    read, found = 0, False
    try:  # streamed: not found, the whole bounded walk passes through ~41 bytes at a time
        for line in p.stdout:
            read += 1
            if line.strip().decode() == commit:
                found = True
                break
    finally:
        p.kill()  # done reading: what git still has to say is not needed
        p.wait()
        p.stdout.close()
        if p.stderr is not None:
            p.stderr.close()
    return True if found else (None if read >= FIRST_PARENTS else False)


def pull_source(git: Git, policy: Policy, t: Trailer,
                tips: Mapping[str, str] | None = None) -> tuple[str, str]:
    """("", "") when the pull's trailer is proven: its commit is the merge's second parent
    and on the first-parent history of the branch it names, a typed branch here. Else
    ("differs" or "unverified", why): a name that is no typed branch, a commit on none of
    that branch's tips where one of them is not behind it, or one only merged into it, is
    false; a branch not here or behind the commit is unverified."""
    kind, why = _pull(git, t)
    if kind:
        return kind, why
    if ref_name_problem(t.branch) or policy.branch_type(t.branch) is None:
        return "differs", (f"{t.branch!r}, the branch its Pulled-From trailer names, is not a "
                           "typed branch of the trusted config")
    found = _source_tips(git, t.branch, tips)
    if not found:
        return "unverified", (f"{t.branch} is not a branch here (deleted since, or not "
                              f"fetched): fetch it to prove {t.commit[:10]} came from it")
    reached = [tip for tip in found if git.is_ancestor(t.commit, tip)]
    own = [own_history(git, tip, t.commit) for tip in reached]
    if True in own:
        return "", ""
    if None in own:
        return "unverified", (f"{t.commit[:10]} is more than {FIRST_PARENTS:,} commits down "
                              f"{t.branch}'s own (first-parent) history, further than branchml "
                              "reads to prove a pull came from it")
    if reached:  # merged into the branch from elsewhere: the branch never held it as its own
        return "differs", (f"{t.commit[:10]} is not on {t.branch}'s own (first-parent) "
                           f"history, only merged into it, so it was never {t.branch}'s data")
    if any(git.is_ancestor(tip, t.commit) for tip in found):  # a tip older than the pull
        return "unverified", (f"{t.commit[:10]} is not yet on {t.branch} here: fetch "
                              f"{t.branch} to prove the pull came from it")
    return "differs", f"{t.commit[:10]} is not on {t.branch}, the branch its trailer names"


def _branch(git: Git, policy: Policy, commit: str, branch: str, tip: str | None
            ) -> tuple[str, str]:
    """The release's `branch`: a stable branch that holds the commit (`tip`: its tip here,
    None when it is not here)."""
    bt = policy.branch_type(branch)
    if bt is None or bt.kind is not BranchKind.STABLE:
        return "differs", f"{branch!r} is not a stable branch: releases are cut from stable ones"
    if tip is None:
        return "unverified", (f"{branch} is not here (deleted since, or not fetched): fetch it "
                              "to prove the release was cut from it")
    if not git.is_ancestor(commit, tip):
        return "differs", f"{commit[:10]} is not on {branch}"
    return "", ""


def prove(git: Git, policy: Policy, commit: str, recorded: dict[str, Any],
          tip: str | None, tips: Mapping[str, str] | None = None
          ) -> tuple[dict[str, str], dict[str, str]]:
    """(fields proven false, fields that cannot be proven here), each with a reason. The
    recorded values are compared with the recomputed ones by the caller; this proves the
    recomputed ones (a trailer written by hand on a stable commit is no lineage), and the
    recorded `branch` (`tip`: that branch's tip here, or None). `tips`: every branch's tip
    as a push judged will leave it (else the refs here)."""
    false: dict[str, str] = {}
    unverified: dict[str, str] = {}
    kind, why = _branch(git, policy, commit, str(recorded.get("branch", "")), tip)
    if kind == "differs":
        false["branch"] = why
    elif kind == "unverified":
        unverified["branch"] = why
    for field, key in TRAILERS.items():
        found = newest(git, commit, key)
        if found is None:
            if recorded.get(field) is not None and _shallow(git):
                unverified[field] = (f"no {key} trailer is in this shallow clone's history "
                                     "of the commit: fetch its history to prove it")
            continue
        kind, why = _promotion(git, policy, found) if field == "promotion" \
            else pull_source(git, policy, found, tips)
        if kind == "differs":
            false[field] = why
        elif kind == "unverified":
            unverified[field] = why
    return false, unverified


MAX_HOPS = 32  # pulls followed back from a release (raw -> clean -> split -> stable is 3)
FILES_SHOWN = 200  # data file names listed per hop (the count is always whole)


def chain(git: Git, policy: Policy, commit: str) -> dict[str, Any]:
    """The `Pulled-From` chain from `commit` back to where its data was committed (raw):
    each hop's source branch, commit and date, the merge that brought it (`via`) and the data
    files that merge changed. A hop is followed only when proven (`pull_source`: the second
    parent of the merge carrying the trailer, on the typed branch it names, here); an
    unproven one is reported and ends the chain. `end` says why it ended:
    `origin` (no older pull), `unproven`, or `limit` (MAX_HOPS)."""
    hops: list[dict[str, Any]] = []
    seen: set[str] = set()
    at = commit
    while len(hops) < MAX_HOPS:
        t = newest(git, at, TRAILERS["pulled_from"])
        if t is None:
            return {"hops": hops, "end": "origin", "sources": _sources(git, policy, at, hops)}
        if t.carrier in seen:  # a proven hop only goes to an ancestor; kept as a guard
            return {"hops": hops, "end": "unproven"}
        seen.add(t.carrier)
        kind, why = pull_source(git, policy, t)
        hops.append(_hop(git, policy, t, not kind, why))
        if kind:
            return {"hops": hops, "end": "unproven"}
        at = t.commit
    return {"hops": hops, "end": "limit"}


def _sources(git: Git, policy: Policy, at: str, hops: list[dict[str, Any]]
             ) -> list[str]:
    """Every data file of the origin (raw) commit the chain reached: a hop lists only what
    its own pull merge changed (the latest pull's files), while raw only grows, so the raw
    commit last pulled holds every raw file behind the release's data (earlier pulls too)."""
    if not hops:
        return []
    out = proc.output(["git", "ls-tree", "-r", "-z", "--name-only", at, "--"], cwd=git.cwd)
    return [p for p in out.split("\0") if p and policy.classify(p) is PathClass.DATA]


def _hop(git: Git, policy: Policy, t: Trailer, proven: bool, why: str) -> dict[str, Any]:
    files: list[str] = []
    merged: list[str] = []
    made: list[str] = []
    if proven:
        files, merged, made = hop_files(git, policy, t.carrier, t.commit)
    date = git.out("show", "-s", "--format=%cI", t.commit, "--", check=False).strip() \
        if proven else ""
    return {"branch": t.branch, "commit": t.commit, "date": date, "via": t.carrier,
            "proven": proven, "why": why, "files": files[:FILES_SHOWN],
            "files_total": len(files), "merged": merged[:FILES_SHOWN],
            "made_by_pull": made[:FILES_SHOWN], "made_by_pull_total": len(made)}


def hop_files(git: Git, policy: Policy, merge: str, source: str
              ) -> tuple[list[str], list[str], list[str]]:
    """The data files the pull's `merge` changed (against its first parent), split by where
    they came from: (brought from `source`, those of them whose content the merge combined
    with the destination's, made by the pull). A file is brought when `source` holds it as
    the merge left it (same blob, or both without it: a deletion the source made), or holds
    it too with other content (rows dropped by --validate, the destination's own rows kept,
    removals carried). A file `source` does not hold (a validation report the pull wrote),
    or holds while the merge removed it, was made by the pull itself."""
    out = proc.output(["git", "diff", "--name-only", "-z", "--no-renames",
                       f"{merge}^1", merge, "--"], cwd=git.cwd)
    changed = [p for p in out.split("\0") if p and policy.classify(p) is PathClass.DATA]
    fields = proc.output(["git", "diff", "--name-status", "-z", "--no-renames", source, merge,
                          "--"], cwd=git.cwd).split("\0")
    # status of the merge's file against the source's: A (source lacks it), D (merge lacks
    # it), M or T (both hold it, other content); a path absent here is the same on both
    status = dict(zip(fields[1::2], fields[0::2], strict=False))
    brought = [p for p in changed if status.get(p, "") not in ("A", "D")]
    return (brought, [p for p in brought if p in status],
            [p for p in changed if status.get(p, "") in ("A", "D")])
