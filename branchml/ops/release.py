"""`branchml tag`, and the read side from tags alone: releases, show, verify, lineage, diff."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.content import manifests
from branchml.core import bounds
from branchml.core import manifest as core
from branchml.core.environment import ENVIRONMENT_FILE, command_of
from branchml.core.model import BranchKind
from branchml.core.names import check_client_id
from branchml.core.naming import DEFAULT_FORMAT, TagFormat
from branchml.core.plan import Plan, RefUpdate
from branchml.errors import (
    BranchmlError,
    ConflictError,
    StaleRef,
    StateError,
    UsageError,
    VerdictError,
)
from branchml.ops import leakage
from branchml.ops.trusted import load_trusted, main_branch_name, trusted_config, trusted_ref
from branchml.repo import apply, lfs, objectstore, proc
from branchml.repo import remote as door
from branchml.repo.reader import Git


@dataclass
class Release:
    tag: str
    client: str
    n: int
    commit: str
    date: str
    manifest: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        m = self.manifest or {}
        model: tuple[str | None, dict[str, Any]] = next(iter(m.get("models", {}).items()),
                                                        (None, {}))
        return {"tag": self.tag, "client": self.client, "n": self.n, "commit": self.commit,
                "date": self.date, "model": model[0],
                "model_id": (model[1].get("lfs_oid") or model[1].get("blob")) if model[0]
                else None, "metrics": m.get("metrics", {})}


def tag_format(g: Git) -> TagFormat:
    return TagFormat((trusted_config(g).get("tags") or {}).get("format", DEFAULT_FORMAT))


def read_releases(g: Git, fmt: TagFormat, client: str | None = None,
                  exact: str | None = None) -> list[Release]:
    """Every release tag (or one client's, or one `exact` tag) in one `git for-each-ref`
    pass, messages included."""
    pattern = f"refs/tags/{exact}" if exact else fmt.glob(client) if client else "refs/tags/"
    out = proc.run(["git", "for-each-ref", "--format=%(refname:strip=2)%00%(objecttype)%00"
                    "%(*objectname)%00%(creatordate:iso-strict)%00%(contents)%1e", pattern],
                   cwd=g.cwd).stdout.decode("utf-8", errors="replace")
    releases = []
    for record in out.split("\x1e"):
        fields = record.lstrip("\n").split("\0")
        if len(fields) < 5 or fields[1] != "tag":
            continue
        parsed = fmt.parse(fields[0])
        if parsed is None or (client and parsed[0] != client):
            continue
        releases.append(Release(fields[0], parsed[0], parsed[1], fields[2], fields[3],
                                core.parse(fields[4])))
    releases.sort(key=lambda r: (r.client, r.n))
    return releases


def tag(path: Path, client: str, rev: str | None, message: str = "", push: bool = False,
        allow_same: bool = False, remote: str = "origin", dry_run: bool = False
        ) -> dict[str, Any]:
    check_client_id(client)
    if core.BEGIN in message or core.END in message:
        raise UsageError("the release notes (-m) contain the manifest marker "
                         f"{core.BEGIN!r} or {core.END!r}: remove it (it would make the "
                         "release unreadable).")
    repo = None if dry_run else objectstore.Repo(path)
    if repo is not None:
        apply.prepare(repo)  # a tag left half made by a kill is finished or dropped first
    g = Git(path)
    policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
    fmt = tag_format(g)
    commit, branch = _stable_commit(g, policy, rev)
    apart = g.diverged(branch, remote) if push else None
    if apart:
        raise StateError(f"{branch} has diverged from {apart}: merge or rebase it onto {apart} "
                         "and push it first, so the release is on the shared history.")
    command = command_of(trusted_config(g))
    base = manifests.compute(g, policy, commit, branch, check_lfs=True, train_command=command)
    warnings = leakage.guard(g, manifests.split_file(g, commit), client,
                             leakage.mode(trusted_config(g)), _splits_of(g, fmt, client),
                             commit)
    if command is not None and (base.get("train") or {}).get("environment") is None:
        warnings.append(f"{commit[:10]} has no {ENVIRONMENT_FILE}: `branchml reproduce` "
                        "cannot compare environments for this release (run `branchml train` "
                        "and commit tracking/ to record one).")
    who, email = g.config("user.name"), g.config("user.email")
    if not who or not email:
        raise StateError("git does not know who you are: set `git config user.name` and "
                         "`git config user.email`, then run the command again.")
    for _ in range(_TRIES):  # a number another command took meanwhile: take the next one
        m, name, text = _minted(g, fmt, client, base, f"{who} <{email}>", message, remote,
                                push, allow_same)
        if repo is None:
            return {**m, "warnings": warnings} if warnings else m
        if _create(repo, commit, name, text, remote if push else None, g.cwd):
            g.close()
            return {**m, "warnings": warnings} if warnings else m
    raise ConflictError(f"{client}'s next release number was taken {_TRIES} times in a row by "
                        "other commands; nothing was tagged: run the command again.")


_TRIES = 5


def _splits_of(g: Git, fmt: TagFormat, client: str) -> list[tuple[str, list[Any]]]:
    """Each earlier release of `client` with the split requests its manifest records."""
    return [(r.tag, (r.manifest or {}).get("splits") or []) for r in read_releases(g, fmt, client)]


@dataclass
class NextRelease:
    """The name `tag --client CLIENT` would mint now (nothing is written)."""

    client: str
    tag: str
    n: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def next_release(path: Path, client: str, remote: str = "origin") -> NextRelease:
    """1 + the highest number of `client`'s releases here and, when `remote` is configured
    and answers, there: the same count `tag` makes, so training can record the name."""
    check_client_id(client)
    g = Git(path)
    try:
        fmt = tag_format(g)
        taken = [r.n for r in read_releases(g, fmt, client)]
        taken += [n for n, _ in _remote_numbers(g, fmt, client, remote, False)]
        n = 1 + max(taken, default=0)
        return NextRelease(client, fmt.render(client, n), n)
    finally:
        g.close()


def _minted(g: Git, fmt: TagFormat, client: str, base: dict[str, Any], tagger: str,
            message: str, remote: str, push: bool, allow_same: bool
            ) -> tuple[dict[str, Any], str, str]:
    """The manifest, name and tag message of `client`'s next release, from the tags as
    they are now."""
    mine = read_releases(g, fmt, client)
    taken = _remote_numbers(g, fmt, client, remote, push)
    last = max(taken, key=lambda t: t[0])
    latest = (last[1], _remote_manifest(g, remote, last[1])) \
        if push and last[0] > max([r.n for r in mine], default=0) \
        else (mine[-1].tag, mine[-1].manifest) if mine else None
    if latest and latest[1] and latest[1].get("snapshot") == base["snapshot"] \
            and not allow_same:  # the remote's newest one too: a lost race is not retagged
        raise VerdictError(f"{latest[0]} already releases this exact code, data and model "
                           f"for {client}; change something, or pass --allow-same.")
    n = 1 + max([r.n for r in mine] + [t[0] for t in taken])
    name = fmt.render(client, n)
    m = manifests.stamp(base, name, client, n, tagger, message)
    _validate(m, name)
    return m, name, core.render(core.summary(m) + (f"\n\n{message}" if message else ""), m)


def _create(repo: objectstore.Repo, commit: str, name: str, text: str, remote: str | None,
            cwd: Path) -> bool:
    """The tag object first (inert), then its ref created under the lock and the operation
    log like every write: compare-and-swap from "absent", so a name taken meanwhile is
    not taken twice (False: mint the next number); with `remote`, pushed, and deleted again
    when the push fails."""
    tag_id = repo.write_tag(commit, name, text)
    ref = f"refs/tags/{name}"
    try:
        apply.apply(repo, Plan(f"tag {name}", [RefUpdate(ref, None, tag_id, "(release)")]))
    except StaleRef:
        return False
    if remote is None:
        return True
    from branchml.ops.push import push_refs

    try:  # the push `branchml push` makes: judged here, LFS objects first, atomic
        push_refs(cwd, remote, [ref, *_unpushed_stable(cwd, remote, commit)])
    except BranchmlError as e:
        from branchml.ops.undolog import PUT_BACK  # undo folds the pair into one failed write

        apply.apply(repo, Plan(f"undo tag {name} {PUT_BACK}", [RefUpdate(ref, tag_id, None)]))
        if isinstance(e, ConflictError):
            raise ConflictError(f"{name} could not be pushed to {remote} (someone took it "
                                "meanwhile); nothing was tagged: run the command again to "
                                "mint the next number.") from None
        if type(e).__init__ is not BranchmlError.__init__:  # not built from one sentence
            raise
        raise type(e)(f"{name} was not tagged, since it could not be pushed: {e}") from None
    return True


def _unpushed_stable(cwd: Path, remote: str, commit: str) -> list[str]:
    """The local stable branches holding `commit`: the release and the branch it is cut
    from go in one push (one already there as it is here is left out by the push)."""
    g = Git(cwd)
    try:
        policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
        return [f"refs/heads/{b}" for b in _branches(g)
                if (bt := policy.branch_type(b)) is not None and bt.kind is BranchKind.STABLE
                and g.is_ancestor(commit, g.resolve(f"refs/heads/{b}") or "")]
    finally:
        g.close()


def _stable_commit(g: Git, policy: Any, rev: str | None) -> tuple[str, str]:
    stables = [b for b in _branches(g) if (bt := policy.branch_type(b)) is not None
               and bt.kind is BranchKind.STABLE]
    if rev is None:
        head = g.current_branch()
        if head in stables:
            rev = head
        elif len(stables) == 1:
            rev = stables[0]
        else:
            raise UsageError("name the release with --rev (a stable/* branch or commit): "
                             f"there are {len(stables)} stable branches.")
    commit = None if rev.startswith("-") else g.resolve(rev)
    if commit is None:
        raise UsageError(f"{rev!r} is not a commit in this repository.")
    holders = [b for b in stables if g.is_ancestor(commit, g.resolve(f"refs/heads/{b}") or "")]
    if not holders:
        raise VerdictError(f"{commit[:10]} is not on a stable/* branch: releases are cut from "
                           "stable branches (promote code and pull data there first).")
    return commit, rev if rev in holders else holders[0]


def _branches(g: Git) -> list[str]:
    return g.out("for-each-ref", "--format=%(refname:strip=2)", "refs/heads/").splitlines()


def _remote_manifest(g: Git, remote: str, name: str) -> dict[str, Any] | None:
    """The manifest of the remote's release `name`: its tag object fetched (no ref is
    written) and read; None when it cannot be had."""
    try:
        door.fetch(g.cwd, remote, [f"refs/tags/{name}"], objects_only=True)
    except door.RemoteError:
        return None
    sha = door.ls_remote(g.cwd, remote, f"refs/tags/{name}").get(f"refs/tags/{name}")
    try:  # (an annotated tag only; one over a release's size is never read)
        found = g.read_bounded(f"{sha}^{{tag}}", bounds.TAG_OBJECT) if sha else None
    except bounds.TooLarge:
        return None
    return core.parse(found[1].decode("utf-8", errors="replace")) if found else None


def _remote_numbers(g: Git, fmt: TagFormat, client: str, remote: str, push: bool
                    ) -> list[tuple[int, str]]:
    """Numbers the remote has taken, so two people never mint the same N (read through the
    remote door: never a prompt, one sentence when it cannot answer)."""
    if not push and g.config(f"remote.{remote}.url") is None:
        return [(0, "")]
    try:
        taken = door.ls_remote(g.cwd, remote, fmt.glob(client))
    except door.RemoteError as e:
        if push:
            raise door.RemoteError(f"{e} Or tag without --push.") from None
        return [(0, "")]
    numbers = [(0, "")]
    for ref in taken:
        name = ref.removeprefix("refs/tags/")
        parsed = fmt.parse(name)
        if parsed and parsed[0] == client:
            numbers.append((parsed[1], name))
    return numbers


def _validate(m: dict[str, Any], name: str) -> None:
    import jsonschema

    from branchml.resources import schema

    errors = sorted(jsonschema.Draft202012Validator(schema("manifest")).iter_errors(m),
                    key=str)
    if errors:
        raise UsageError(f"the manifest of {name} fails its schema: {errors[0].message}.")


def find(g: Git, fmt: TagFormat, name: str) -> Release:
    parsed = fmt.parse(name)
    if parsed is None:
        raise UsageError(f"{name!r} is not a release tag name (format {fmt.template}).")
    found = [r for r in read_releases(g, fmt, parsed[0], exact=name) if r.tag == name]
    if not found:
        raise UsageError(f"there is no release {name} here; see `branchml releases`.")
    rel = found[0]
    if rel.manifest is None:
        raise UsageError(f"{name} carries no branchml manifest.")
    _validate(rel.manifest, name)
    return rel


def own_manifest(rel: Release) -> dict[str, Any]:
    """The manifest of `rel`, refused when it names another tag or commit (a tag made by
    hand, or a manifest copied from another release): what `show` prints must be this
    release's; `verify` says which fields differ."""
    m = rel.manifest or {}
    if m.get("tag") != rel.tag or m.get("commit") != rel.commit:
        raise VerdictError(f"{rel.tag} carries the manifest of {m.get('tag')!r} at "
                           f"{str(m.get('commit'))[:10]}, not its own (made by hand or "
                           "copied): do not use it; `branchml verify` says what differs.")
    return m


@dataclass
class Verification:
    """`verify`'s answer: manifest fields a recomputation disagrees with (a lineage field
    proven false, with why), lineage fields that cannot be proven here (with why: they do
    not fail the release, and are never called verified), the tagger's own claims (shown,
    not recomputed), and LFS objects whose bytes are not what the manifest names."""

    tag: str
    commit: str
    fields: list[str]
    objects: list[dict[str, Any]]
    checked: int  # distinct LFS objects hashed
    bytes: int
    reasons: dict[str, str] = field(default_factory=dict)
    unverified: dict[str, str] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.fields and not self.objects

    def problems(self) -> list[str]:
        out = [o["message"] for o in self.objects]
        out += [f"{f}: {why}" for f, why in self.reasons.items() if f in self.fields]
        if self.fields:
            out.append(f"its manifest's {fields_phrase(self.fields)} not match what its "
                       "commit holds")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "commit": self.commit, "ok": self.ok,
                "fields": self.fields, "reasons": self.reasons,
                "unverified": self.unverified, "claims": self.claims,
                "objects_checked": self.checked, "bytes_checked": self.bytes,
                "objects": self.objects}


def fields_phrase(fields: list[str]) -> str:
    """"train field does" / "fields promotion and pulled_from do": the subject and verb of
    a sentence about manifest fields, agreeing in number."""
    if len(fields) == 1:
        return f"{fields[0]} field does"
    return f"fields {', '.join(fields[:-1])} and {fields[-1]} do"


def verify(path: Path, name: str) -> Verification:
    """Recompute the manifest from the tagged commit and the tag's name, prove its lineage
    (promotion, pulled_from) against the repository, and recompute the size and SHA-256 of
    every LFS object it names (models, and the files under its data trees) from the store."""
    g = Git(path)
    rel = find(g, tag_format(g), name)
    assert rel.manifest is not None
    policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
    branch = str(rel.manifest.get("branch", ""))
    tip = None if branch.startswith("-") else (  # a clone may hold it as origin's only
        g.resolve(f"refs/heads/{branch}") or g.resolve(f"refs/remotes/origin/{branch}"))
    found = manifests.check_fields(g, policy, rel.commit, rel.manifest,
                                   core.own_fields(rel.tag, rel.client, rel.n), tip,
                                   main_tip=main_tip(g))
    # a clone holds only its checked-out branch's objects: the release's are fetched first
    lfs.fetch_missing(g.layout.common_dir, g.cwd, rel.commit,
                      (o.pointer for o in found.objects))
    bad, checked, size = manifests.check_objects(g, found.objects)
    g.close()
    return Verification(name, rel.commit, found.differ, bad, checked, size, found.reasons,
                        found.unverified,
                        {k: rel.manifest[k] for k in core.CLAIMS if k in rel.manifest})


def main_tip(g: Git) -> str | None:
    """The trusted main's tip here, else origin's main (a clone may hold it as that only):
    the history a manifest's `train.command` is proven against."""
    return g.resolve(trusted_ref(g)) or g.resolve(f"refs/remotes/origin/{main_branch_name(g)}")
