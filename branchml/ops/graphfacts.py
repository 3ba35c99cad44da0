"""The moves `branchml graph` draws, read from trailers on first-parent histories and each
proven by the rules the rest of branchml uses (content/lineage.py): a promotion's named
commit holds exactly the promotion's code, a pull's named commit is the merge's second parent
on the typed branch it names, a tracking copy's named commit is on the stable branch it names.
A claim that cannot be proven is returned with why, never dropped."""

from __future__ import annotations

import re
from dataclasses import dataclass

from branchml.content import lineage
from branchml.content.snapshot import code_digest
from branchml.core.graph import Fact
from branchml.core.model import BranchKind
from branchml.core.policy import Policy
from branchml.repo import proc
from branchml.repo.reader import Git

WALK = lineage.WALK  # first-parent commits read per branch: the lineage walk's bound
KEYS = ("Promoted-From", "Pulled-From", "Tracked-From")
_FORMAT = "%H%x1f%cI%x1f%s" + "".join(
    f"%x1f%(trailers:key={k},valueonly,separator=%x1d)" for k in KEYS) + "%x1e"
_INTO = re.compile(r"branchml (?:pull|promote) \S+ into (\S+)")


@dataclass
class Carrier:
    """A commit holding one of KEYS, and the branches whose first-parent history holds it."""

    sha: str
    date: str
    subject: str
    trailers: dict[str, str]  # key -> its newest value ("<branch> <sha>")
    branches: list[str]

    def home(self, eligible: list[str]) -> str | None:
        """The branch the move was made on, among the `eligible` ones holding it: the one its
        subject names (`branchml pull A into B` is B's) when eligible, else the first. A
        branch forked from another after a move holds the move too; it is drawn once."""
        m = _INTO.fullmatch(self.subject)
        if m and m.group(1) in eligible:
            return m.group(1)
        return eligible[0] if eligible else None


def walk(g: Git, branches: list[str]) -> tuple[dict[str, Carrier], list[str]]:
    """Every commit carrying a trailer of KEYS on the last WALK first-parent commits of each
    branch (one `git log` per branch), and a sentence per branch whose walk was cut."""
    found: dict[str, Carrier] = {}
    cut: list[str] = []
    for branch in branches:
        out = proc.output(["git", "log", "--first-parent", f"-n{WALK + 1}",
                           f"--format={_FORMAT}", "--end-of-options", f"refs/heads/{branch}",
                           "--"], cwd=g.cwd)
        records = [r.strip("\n") for r in out.split("\x1e") if r.strip("\n")]
        if len(records) > WALK:
            cut.append(f"{branch}: only its last {WALK} first-parent commits were read")
        for rec in records[:WALK]:
            sha, date, subject, *values = rec.split("\x1f")
            trailers = {k: v.split("\x1d")[-1].strip() for k, v in zip(KEYS, values,
                                                                         strict=False)}
            trailers = {k: v for k, v in trailers.items() if v}
            if not trailers:
                continue
            if sha in found:
                found[sha].branches.append(branch)
            else:
                found[sha] = Carrier(sha, date, subject, trailers, [branch])
    return found, cut


def facts(g: Git, policy: Policy, carriers: dict[str, Carrier], main: str) -> list[Fact]:
    """The promotion (on a stable branch), pull (on any branch, a typed one first) and
    tracking copy (on main) each carrier states, with its proof."""
    out: list[Fact] = []
    for c in carriers.values():
        typed = [b for b in c.branches if _kind(policy, b) is not None]
        homes = {"Pulled-From": c.home(typed + [b for b in c.branches if b not in typed]),
                 "Promoted-From": c.home([b for b in c.branches
                                          if _kind(policy, b) is BranchKind.STABLE]),
                 "Tracked-From": main if main in c.branches else None}
        for key, value in c.trailers.items():
            home = homes[key]
            if home is None:  # a trailer where that move is never made: not drawn
                continue
            src, _, named = value.partition(" ")
            t = lineage.Trailer(c.sha, src, named.strip())
            kind, why = (("pull", pull_why(g, policy, t)) if key == "Pulled-From" else
                         ("promotion", promotion_why(g, policy, t)) if key == "Promoted-From"
                         else ("track", track_why(g, policy, t)))
            out.append(Fact(kind, src, home, c.date, why))
    return out


def _kind(policy: Policy, branch: str) -> BranchKind | None:
    bt = policy.branch_type(branch)
    return bt.kind if bt is not None else None


_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _commit_here(g: Git, sha: str) -> bool:
    """A full object id (never a revision expression such as `main~1`) of a commit here."""
    return bool(_SHA.fullmatch(sha)) and g.object_type(sha) == "commit"


def promotion_why(g: Git, policy: Policy, t: lineage.Trailer) -> str:
    """"" when the promotion is proven: it names a code branch, and a commit here whose code
    is exactly the promotion commit's (what `branchml promote` writes)."""
    if _kind(policy, t.branch) is not BranchKind.CODE:
        return f"{t.branch} is not a code branch of the trusted config"
    if not _commit_here(g, t.commit):
        return f"the promoted commit {t.commit[:10]} is not in this repository"
    if code_digest(g, policy, t.carrier) != code_digest(g, policy, t.commit):
        return f"{t.carrier[:10]} does not hold the code of {t.commit[:10]}"
    return ""


def pull_why(g: Git, policy: Policy, t: lineage.Trailer) -> str:
    """"" when the pull is proven (lineage.pull_source: the merge's second parent, on the
    first-parent history of the typed branch the trailer names)."""
    if not _commit_here(g, t.commit):
        return f"the pulled commit {t.commit[:10] or '?'} is not in this repository"
    return lineage.pull_source(g, policy, t)[1]


def track_why(g: Git, policy: Policy, t: lineage.Trailer) -> str:
    """"" when the tracking copy is proven: it names a stable branch here whose history holds
    the commit named, a commit main's history did not hold before the copy (what `branchml
    track` writes: main's own commits are on every branch made from it, and prove nothing)."""
    if _kind(policy, t.branch) is not BranchKind.STABLE:
        return f"{t.branch} is not a stable branch of the trusted config"
    if not _commit_here(g, t.commit):
        return f"the tracked commit {t.commit[:10] or '?'} is not in this repository"
    tips = [tip for tip in (g.resolve(f"refs/heads/{t.branch}"),
                            g.resolve(f"refs/remotes/origin/{t.branch}")) if tip]
    if not tips:
        return f"{t.branch} is not a branch here (deleted since, or not fetched)"
    if not any(g.is_ancestor(t.commit, tip) for tip in tips):
        return f"{t.commit[:10]} is not on {t.branch}"
    before = g.resolve(f"{t.carrier}^1")
    if before is not None and g.is_ancestor(t.commit, before):
        return f"{t.commit[:10]} is main's own commit, not one made on {t.branch}"
    return ""
