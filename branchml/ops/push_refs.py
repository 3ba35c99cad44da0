"""The refs of a push that are not branches: release tags and deploy history.

Both are records a team relies on after the fact ("what was released", "what ran when"), so
the receiving side keeps them append-only whatever the pusher's hooks did: a release tag is
created once, annotated, with a manifest that verifies against its commit on a stable branch;
`refs/deploy/<client>` only moves forward, one parent per commit, and every deployment names
a release that exists.
"""

from __future__ import annotations

from branchml.content import manifests
from branchml.core import bounds, deployrecord
from branchml.core import manifest as core
from branchml.core.changes import Violation
from branchml.core.model import BranchKind
from branchml.core.naming import DEFAULT_FORMAT, TagFormat
from branchml.ops.trusted import TrustedPolicy, trusted_ref
from branchml.repo.reader import Git


def zero(oid: str) -> bool:
    """git's all-zeros object id: "no ref" on one side of an update."""
    return set(oid) == {"0"}


def check_release_tag(git: Git, ref: str, old: str, new: str, after: dict[str, str],
                      trusted: TrustedPolicy) -> list[Violation]:
    name = ref.removeprefix("refs/tags/")

    def refuse(why: str) -> list[Violation]:
        return [Violation("release-tag", f"release tag {name}: {why}", branch=ref)]

    if zero(new):
        return refuse("release tags are never deleted (make a new release instead)")
    if not zero(old) and old != new:
        return refuse("release tags are never moved (make a new release instead)")
    if not zero(old):
        return []  # unchanged
    if git.object_type(new) != "tag":
        return refuse("it is not an annotated tag: make releases with `branchml tag`")
    size = git.cat.size(new)
    if size is None or size > bounds.TAG_OBJECT:  # asked before a byte of it is read
        return refuse(f"its tag object holds {size or 0:,} bytes, over the limit of "
                      f"{bounds.human(bounds.TAG_OBJECT)} for a release (a manifest is a few "
                      "KiB): make releases with `branchml tag`")
    body = (git.cat.read(new) or ("", b""))[1].decode("utf-8", errors="replace")
    header = body.partition("\n\n")[0].splitlines()
    if "type commit" not in header or f"tag {name}" not in header:
        return refuse("its tag object must name this tag and point at a commit (not at "
                      "another tag): make releases with `branchml tag`")
    recorded = core.parse(body.partition("\n\n")[2])
    if recorded is None:
        return refuse("it carries no branchml manifest: make releases with `branchml tag`")
    if recorded.get("tag") != name:
        return refuse(f"its manifest names {recorded.get('tag')!r}, not {name}")
    commit = git.resolve(f"{new}^{{commit}}")
    if commit is None or commit != recorded.get("commit"):
        return refuse("it does not point at the commit its manifest names")
    branches = {r.removeprefix("refs/heads/"): s for r, s in after.items()
                if r.startswith("refs/heads/")}
    if _stable_holding(git, trusted, branches, commit) is None:
        return refuse(f"its commit {commit[:10]} is on no stable branch: releases are cut "
                      "from stable branches (promote code and pull data there first)")
    try:
        bad = _differences(git, trusted, commit, name, recorded, branches)
    except bounds.TooLarge as e:  # a tracking file of the commit over its limit, never read
        return refuse(f"{str(e).rstrip('.')}: keep params and metrics small")
    if bad:
        return refuse("its manifest does not verify against its commit: it differs in "
                      + "; ".join(bad))
    leak = _trains_on_test(git, trusted, commit)
    return refuse(leak) if leak else []


def _trains_on_test(git: Git, trusted: TrustedPolicy, commit: str) -> str:
    """`tag`'s leakage refusal, for a release tag made without `tag` (its `splits` verified
    equal to its commit's records just before), read from the commit as `tag` reads it: records
    in git-lfs are refused (whatever tags.leakage says: fail closed), and under refuse a line
    that is not a record or a request not spelled as `split rows` writes it. Only the rules the
    records alone decide: the rest of the guard reads assignments, possibly from LFS, which a
    server does not fetch."""
    from branchml.core import leakage

    found = manifests.split_file(git, commit)
    if found.lfs:
        return leakage.IN_LFS.rstrip(".")
    if (trusted.config.get("tags") or {}).get("leakage", "refuse") != "refuse":
        return ""
    unread = found.unread + leakage.unjudged(found.kept)
    if unread:
        return (f"its split records cannot be judged for leakage ({unread[0]}): record "
                "requests with `branchml split rows`, or set tags.leakage: warn in "
                "branchml.yaml on main")
    leaks = leakage.trains_on_test(found.kept)
    if not leaks:
        return ""
    return (f"its training took test items (`split rows {leaks[0]['split']} --for "
            f"{leaks[0]['purpose']}`): train and tune on train and val, evaluate on test, or "
            "set tags.leakage: warn in branchml.yaml on main")


def _differences(git: Git, trusted: TrustedPolicy, commit: str, name: str,
                 recorded: dict[str, object], branches: dict[str, str]) -> list[str]:
    """The manifest recomputed from the commit and the tag's name, its lineage proven (here
    everything a release names must be: an unprovable lineage is refused), and the bytes of
    every LFS object it names that the receiving side has (git-lfs uploads them before the
    refs of a push move; one it lacks cannot be read, and is judged by its pointer alone)."""
    fmt = TagFormat((trusted.config.get("tags") or {}).get("format", DEFAULT_FORMAT))
    parsed = fmt.parse(name)
    own = core.own_fields(name, *parsed) if parsed else {}
    # train.command is proven against main as this server holds it (not as the push moves it)
    found = manifests.check_fields(git, trusted.policy, commit, dict(recorded), own,
                                   branches.get(str(recorded.get("branch", ""))), branches,
                                   main_tip=git.resolve(trusted_ref(git)))
    bad, _, _ = manifests.check_objects(git, found.objects)
    notes = {**found.reasons, **{f: f"unverified: {why}" for f, why in
                                 found.unverified.items()}}
    return ([f"{f} ({notes[f]})" if f in notes else f
             for f in sorted(set(found.differ) | set(found.unverified))]
            + [f"the bytes of {', '.join(b['paths'][:3])}" for b in bad
               if b["problem"] != "missing"])


def _stable_holding(git: Git, trusted: TrustedPolicy, branches: dict[str, str],
                    commit: str) -> str | None:
    """A stable branch whose own (first-parent) history holds `commit`: a commit a merge
    brought in through its second parent was never judged as stable's."""
    for name, tip in sorted(branches.items()):
        bt = trusted.policy.branch_type(name)
        if bt is None or bt.kind is not BranchKind.STABLE or not git.is_ancestor(commit, tip):
            continue
        if commit in git.out("rev-list", "--first-parent", tip, "--").split():
            return name
    return None


def check_deploy_ref(git: Git, ref: str, old: str, new: str, after: dict[str, str],
                     fmt: TagFormat) -> list[Violation]:
    client = ref.removeprefix("refs/deploy/")

    def refuse(why: str, sha: str = "") -> list[Violation]:
        return [Violation("deploy-history", f"{ref}: {why}", sha, branch=ref)]

    if zero(new):
        return refuse("deployment history is never deleted")
    if not zero(old) and not (git.has_object(old) and git.is_ancestor(old, new)):
        return refuse("it does not move forward from its current value (history is never "
                      "rewritten); fetch it, then deploy with `branchml deploy`")
    args = ["log", "--format=%H %P%x00%(trailers:key=Deploy-Primary,valueonly)%x00"
            "%(trailers:key=Deploy-Candidate,valueonly)%x1e", new]
    records = git.out(*args, *(["--not", old] if not zero(old) else []), "--")
    commits = [r.lstrip("\n").split("\0") for r in records.split("\x1e") if r.strip()]
    shas = {c[0].split(" ")[0] for c in commits}
    for fields in commits:
        sha, *parents = fields[0].split()
        if len(parents) > 1:
            return refuse("a deployment commit has more than one parent; deploy with "
                          "`branchml deploy`", sha)
        outside = [p for p in parents if p not in shas]
        if (outside and outside != [old]) or (not parents and not zero(old)):
            return refuse("it does not move forward from its current value (history is "
                          "never rewritten); deploy with `branchml deploy`", sha)
        for tag in (fields[1].strip(), fields[2].strip().split(" ")[0]):
            parsed = fmt.parse(tag) if tag else None
            if tag and (parsed is None or parsed[0] != client
                        or f"refs/tags/{tag}" not in after):
                return refuse(f"a deployment names {tag!r}, which is not a release of "
                              f"{client} here: push the release tag first", sha)
        if not fields[1].strip():
            return refuse("a deployment commit names no release (Deploy-Primary)", sha)
        why = _record_problem(git, client, sha, fields[1], fields[2])
        if why:
            return refuse(why, sha)
    return []


def _record_problem(git: Git, client: str, sha: str, primary: str, candidate: str) -> str:
    """Why the deployment commit `sha` is not one record (its trailers, which this judge and
    `deployed` read, and its deploy.yaml, which the router reads, must say the same), or
    "": a server that judged the trailers alone let a deploy.yaml send keys elsewhere."""
    try:
        blob = git.read_bounded(f"{sha}:deploy.yaml", deployrecord.LIMIT, "deploy.yaml")
        text = blob[1].decode("utf-8", "replace") if blob is not None else None
        deployrecord.read(client, primary, candidate, text)
    except bounds.TooLarge:
        return (f"a deployment's deploy.yaml is over {deployrecord.LIMIT // 1024} KiB; deploy "
                "with `branchml deploy`")
    except deployrecord.BadRecord as e:
        return f"the deployment {e}; deploy with `branchml deploy`"
    return ""
