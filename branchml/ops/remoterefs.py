"""The remote's refs as `clone` and `sync` see them: typed branches, release tags and deploy
refs, each name checked before it reaches git; everything else stays on the remote.

Only objects are fetched (`git fetch REMOTE refs/heads/raw ...`, no destination): every local
ref, remote-tracking ones included, is then moved by the apply layer, in one compare-and-swap
transaction with an op log line, to the id `git ls-remote` listed. The last sync's view of the
remote is kept in `<git-common-dir>/branchml/sync/<remote>.json`: what "changed since the
last sync" is measured from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from branchml.core.model import BranchKind
from branchml.core.names import CLIENT_ID, check_branch_name, ref_name_problem
from branchml.core.naming import DEFAULT_FORMAT, TagFormat
from branchml.core.policy import Policy
from branchml.errors import InvalidName
from branchml.repo import proc, remote
from branchml.repo.reader import Git


class RemoteRefs(NamedTuple):
    """What branchml takes from a remote (names already checked), and what it leaves."""

    heads: dict[str, str]  # typed branch name -> commit id
    tags: dict[str, str]  # release tag name -> tag object id
    deploys: dict[str, str]  # client -> commit id
    skipped: list[dict[str, str]]  # {"ref", "why"}: never passed to git
    listed: frozenset[str]  # every ref name the remote listed (a branch absent: deleted)

    def flat(self) -> dict[str, str]:
        """{full ref name on the remote: id}, as the sync state file records it."""
        return {**{f"refs/heads/{b}": s for b, s in self.heads.items()},
                **{f"refs/tags/{t}": s for t, s in self.tags.items()},
                **{f"refs/deploy/{c}": s for c, s in self.deploys.items()}}


def tag_format_of(cfg: Mapping[str, Any]) -> TagFormat:
    return TagFormat((cfg.get("tags") or {}).get("format", DEFAULT_FORMAT))


def classify(listed: Mapping[str, str], policy: Policy, fmt: TagFormat) -> RemoteRefs:
    """Sort what `git ls-remote` listed: a name git or branchml would refuse, a branch no
    type matches, a tag that is not a release and any ref outside refs/heads, refs/tags and
    refs/deploy is skipped (reported, never fetched)."""
    view = RemoteRefs({}, {}, {}, [], frozenset(listed))
    for ref, sha in sorted(listed.items()):
        why = _take(view, ref, sha, policy, fmt)
        if why:
            view.skipped.append({"ref": ref, "why": why})
    return view


def _take(view: RemoteRefs, ref: str, sha: str, policy: Policy, fmt: TagFormat) -> str:
    """Files `ref` into `view` and returns "", or says why it is left on the remote."""
    if ref == "HEAD":
        return ""
    if not _is_id(sha):
        return "not an object id"
    kind, _, name = ref.removeprefix("refs/").partition("/")
    if kind == "heads":
        try:
            check_branch_name(name)
        except InvalidName:
            return "not a valid branch name"
        if policy.branch_type(name) is None:
            return "matches no branch type"
        view.heads[name] = sha
    elif kind == "tags":
        if ref_name_problem(name) or fmt.parse(name) is None:
            return "not a release tag"
        view.tags[name] = sha
    elif kind == "deploy" and CLIENT_ID.match(name) and len(name) <= 64:
        view.deploys[name] = sha
    else:
        return "outside refs/heads, release tags and refs/deploy"
    return ""


def _is_id(sha: str) -> bool:
    return len(sha) in (40, 64) and all(c in "0123456789abcdef" for c in sha)


def fetch_objects(cwd: Path, name: str, view: RemoteRefs) -> dict[str, str]:
    """Fetch what is not here yet (objects only; no ref is written) and return the type of
    every listed object: "missing" when the remote moved it between the listing and the
    fetch (the caller asks for another run)."""
    wanted = view.flat()
    types = object_types(cwd, wanted.values())
    needed = sorted(ref for ref, sha in wanted.items() if types[sha] == "missing")
    if needed:
        remote.fetch(cwd, name, needed, objects_only=True)
        types = object_types(cwd, wanted.values())
    return types


def only_commits(cwd: Path, view: RemoteRefs, types: dict[str, str]) -> RemoteRefs:
    """`view` without the refs whose object is of the wrong kind (moved to skipped): a
    branch or deploy ref not at a commit, a release tag not an annotated tag of a commit.
    git refuses such a branch ("non-commit object"), and a protected one would stop every
    later sync. Objects still missing stay (the caller asks for another run)."""
    peeled = _peeled_types(cwd, [s for s in view.tags.values() if types.get(s) == "tag"])
    out = RemoteRefs({}, {}, {}, list(view.skipped), view.listed)

    def keep(ref: str, sha: str, ok: bool, kind: str) -> bool:
        if ok or types.get(sha) == "missing":
            return True
        out.skipped.append({"ref": ref, "why": f"not {kind} (a {types.get(sha)})"})
        return False

    out.heads.update((b, s) for b, s in view.heads.items()
                     if keep(f"refs/heads/{b}", s, types.get(s) == "commit", "a commit"))
    out.tags.update((t, s) for t, s in view.tags.items() if keep(
        f"refs/tags/{t}", s, peeled.get(s) == "commit", "an annotated tag of a commit"))
    out.deploys.update((c, s) for c, s in view.deploys.items()
                       if keep(f"refs/deploy/{c}", s, types.get(s) == "commit", "a commit"))
    out.skipped.sort(key=lambda e: e["ref"])
    return out


def _peeled_types(cwd: Path, tags: list[str]) -> dict[str, str]:
    """{tag object id: the type of what it finally points at} (`<id>^{}`), read in one
    `git cat-file --batch-check` that never reads a tag object's message."""
    if not tags:
        return {}
    r = proc.run(["git", "cat-file", "--batch-check=%(objecttype)"], cwd=cwd,
                 stdin="".join(f"{s}^{{}}\n" for s in tags).encode())
    return dict(zip(tags, r.stdout.decode().splitlines(), strict=False))


def object_types(cwd: Path, shas: Any) -> dict[str, str]:
    """{id: "commit" | "tag" | ... | "missing"} in one `git cat-file --batch-check`."""
    ids = sorted(set(shas))
    if not ids:
        return {}
    r = proc.run(["git", "cat-file", "--batch-check=%(objectname) %(objecttype)"], cwd=cwd,
                 stdin="".join(f"{s}\n" for s in ids).encode())
    found = dict(line.split(" ", 1) for line in r.stdout.decode().splitlines()
                 if not line.endswith(" missing"))
    return {s: found.get(s, "missing") for s in ids}


def state_file(common: Path, name: str) -> Path:
    return common / "branchml" / "sync" / f"{name}.json"


def last_state(common: Path, name: str) -> tuple[dict[str, str], str | None] | None:
    """The remote's refs at the last sync (or clone) and when it was; None: never synced."""
    try:
        data = json.loads(state_file(common, name).read_text())
        refs = data["refs"]
        if isinstance(refs, dict) and all(isinstance(v, str) for v in refs.values()):
            return {str(k): v for k, v in refs.items()}, str(data.get("time") or "") or None
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def local_state(g: Git, name: str, fmt: TagFormat) -> dict[str, str]:
    """Without a state file: the remote as this clone last fetched it (its remote-tracking
    branches, and the release tags and deploy refs held here)."""
    prefix = f"refs/remotes/{name}/"
    heads = {f"refs/heads/{r.removeprefix(prefix)}": s for r, s in g.refs(prefix).items()
             if r != f"{prefix}HEAD"}
    tags = {r: s for r, s in g.refs("refs/tags/").items()
            if fmt.parse(r.removeprefix("refs/tags/"))}
    return {**heads, **tags, **g.refs("refs/deploy/")}


def save_state(common: Path, name: str, url: str, refs: Mapping[str, str]) -> None:
    """Written whole under another name, then renamed: a kill leaves the old state or the
    new one (an old one only makes the next report longer)."""
    path = state_file(common, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"time": datetime.now(UTC).isoformat(timespec="seconds"),
                               "url": url, "refs": dict(sorted(refs.items()))}, indent=1))
    os.replace(tmp, path)


def primary_tag(g: Git, commit: str) -> str:
    """The release a deployment commit routes to (its Deploy-Primary trailer)."""
    return g.out("log", "-1", "--format=%(trailers:key=Deploy-Primary,valueonly)",
                 commit).strip()


def changes_since(g: Git, policy: Policy, view: RemoteRefs, before: dict[str, str]
                  ) -> dict[str, Any]:
    """What the remote gained since the last sync: branches made and deleted, new releases,
    deployments moved, and the paths added or changed on each data branch."""
    gone = sorted(r.removeprefix("refs/heads/") for r in before
                  if r.startswith("refs/heads/") and r not in view.listed)
    data: dict[str, list[dict[str, str]]] = {}
    for branch, sha in view.heads.items():
        old = before.get(f"refs/heads/{branch}")
        bt = policy.branch_type(branch)
        if old != sha and bt is not None and bt.kind is BranchKind.DATA:
            data[branch] = changed_paths(g, old, sha)
    return {
        "branches_created": sorted(b for b in view.heads if f"refs/heads/{b}" not in before),
        "branches_deleted": gone,
        "releases": sorted(t for t in view.tags if f"refs/tags/{t}" not in before),
        "deployments": [{"client": c, "old": before.get(f"refs/deploy/{c}"), "new": s,
                         "primary": primary_tag(g, s)} for c, s in view.deploys.items()
                        if before.get(f"refs/deploy/{c}") != s],
        "data": data,
    }


def changed_paths(g: Git, old: str | None, new: str) -> list[dict[str, str]]:
    """Every path added, changed or deleted from `old` to `new` (all of `new` when `old` is
    unknown or no longer here)."""
    if old is None or not g.has_object(old):
        return [{"status": "A", "path": p} for _, _, p in g.ls_tree(new)]
    raw = g.out("diff-tree", "-r", "-z", "--no-renames", "--name-status", old, new)
    tokens = raw.split("\0")
    return [{"status": s, "path": p} for s, p in zip(tokens[0::2], tokens[1::2], strict=False)
            if s]
