"""`branchml deploy / rollback / deployed`: refs/deploy/<client> moves to a small commit
holding deploy.yaml (primary, candidate, fraction); its parent is the previous deployment, so
the history is a git log and "what ran when" is a walk back to a date."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from branchml.core.names import check_client_id
from branchml.core.plan import Plan, RefUpdate
from branchml.errors import BranchmlError, UsageError, VerdictError
from branchml.ops.release import find, tag_format, verify
from branchml.repo import apply, objectstore, proc
from branchml.repo.reader import Git


def _ref(client: str) -> str:
    return f"refs/deploy/{check_client_id(client)}"


def deploy(path: Path, client: str, tag: str, canary: str | None = None,
           fraction: float | None = None, reason: str = "deploy", dry_run: bool = False,
           push: bool = False, remote: str = "origin") -> dict[str, Any]:
    g, repo = Git(path), objectstore.Repo(path)
    if not dry_run:
        apply.prepare(repo)
    fmt = tag_format(g)
    if (canary is None) != (fraction is None):
        raise UsageError("--canary and --fraction go together: name the candidate and its "
                         "share of traffic.")
    if fraction is not None and not 0 < fraction < 1:
        raise UsageError(f"--fraction {fraction} must be between 0 and 1 (exclusive).")
    for name in filter(None, (tag, canary)):
        rel = find(g, fmt, name)
        if rel.client != client:
            raise UsageError(f"{name} is a release of {rel.client}, not of {client}.")
        checked = verify(path, name)
        if not checked.ok:
            problems = checked.problems()
            more = f" (and {len(problems) - 1} more: see `branchml verify {name}`)" \
                if len(problems) > 1 else ""
            raise VerdictError(f"{name} does not verify: {problems[0]}{more}; it is not "
                               "deployed.")
    ref = _ref(client)
    old = repo.pg.references.get(ref)
    old_sha = str(old.target) if old is not None else None
    routing = f"client: {client}\nprimary: {tag}\n"
    if canary:
        routing += f"candidate: {canary}\nfraction: {fraction}\n"
    what = f"{tag}" + (f" (candidate {canary} at {fraction:g})" if canary else "")
    message = (f"{reason} {client}: {what}\n\nDeploy-Primary: {tag}\n"
               + (f"Deploy-Candidate: {canary} {fraction}\n" if canary else ""))
    if old_sha is not None and repo.read_file(old_sha, "deploy.yaml") == routing.encode():
        # already so (a rerun after a kill, or twice the same command): no second record;
        # with --push, a deployment recorded here but not pushed yet goes now
        g.close()
        pushed = _push(path, remote, ref) if push and not dry_run else None
        return {"client": client, "primary": tag, "candidate": canary, "fraction": fraction,
                "commit": old_sha, "already": True, "pushed": pushed}
    tree = repo.tree_from_files(None, {"deploy.yaml": routing.encode()})
    commit = repo.commit_tree(tree, [old_sha] if old_sha else [], message)
    g.close()
    pushed = None
    if not dry_run:
        apply.apply(repo, Plan(f"{reason} {client} {tag}", [RefUpdate(ref, old_sha, commit)]))
        if push:
            try:
                pushed = _push(path, remote, ref)
            except BranchmlError:  # refused or unreachable: the local record is taken back
                # (Ctrl-C keeps it: the push may have landed; `branchml push` sends it later)
                apply.apply(repo, Plan(f"undo {reason} {client} {tag} (push failed)",
                                       [RefUpdate(ref, commit, old_sha)]))
                raise
    return {"client": client, "primary": tag, "candidate": canary, "fraction": fraction,
            "commit": commit, "pushed": pushed}


def _push(path: Path, remote: str, ref: str) -> bool:
    """The deploy ref to `remote` through `branchml push`'s atomic push (True: it moved
    there; False: the remote already had it)."""
    from branchml.ops.push import push_refs

    return bool(push_refs(path, remote, [ref]).moves)


def history(g: Git, client: str) -> list[dict[str, Any]]:
    """Deployments of `client`, newest first."""
    ref = _ref(client)
    if g.resolve(ref) is None:
        raise UsageError(f"{client} has never been deployed (no {ref}); run `branchml deploy "
                         f"--client {client} TAG`.")
    out = proc.output(["git", "log", "--first-parent", "--format=%H%x00%cI%x00"
                       "%(trailers:key=Deploy-Primary,valueonly)%x00"
                       "%(trailers:key=Deploy-Candidate,valueonly)%x00%s%x1e", ref], cwd=g.cwd)
    rows = []
    for rec in out.split("\x1e"):
        f = rec.strip("\n").split("\0")
        if len(f) >= 5:
            cand = f[3].strip().split()
            rows.append({"commit": f[0], "time": f[1], "primary": f[2].strip(),
                         "candidate": cand[0] if cand else None,
                         "fraction": float(cand[1]) if len(cand) > 1 else None,
                         "what": f[4]})
    return rows


def rollback(path: Path, client: str, to: str | None = None, dry_run: bool = False,
             push: bool = False) -> dict[str, Any]:
    g = Git(path)
    rows = history(g, client)
    if to is None:
        current = rows[0]["primary"]
        previous = next((r["primary"] for r in rows[1:] if r["primary"] != current), None)
        if previous is None:
            raise UsageError(f"{client} has no earlier release to roll back to (only "
                             f"{current}); name one with --to.")
        to = previous
    return deploy(path, client, to, reason="rollback", dry_run=dry_run, push=push)


def deployed(path: Path, client: str, at: str | None = None) -> dict[str, Any]:
    g = Git(path)
    rows = history(g, client)
    if at is None:
        return {**rows[0], "client": client, "at": None}
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise UsageError(f"--at {at!r} is not a date and time like 2026-11-01T12:00.") from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    for r in rows:
        if datetime.fromisoformat(r["time"]) <= when:
            return {**r, "client": client, "at": at}
    raise UsageError(f"nothing of {client} was deployed at {at} (first deployment: "
                     f"{rows[-1]['time']}).")
