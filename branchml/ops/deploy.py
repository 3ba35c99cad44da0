"""`branchml deploy / rollback / deployed`: refs/deploy/<client> moves to a small commit
holding deploy.yaml (primary, candidate, fraction); its parent is the previous deployment, so
the history is a git log and "what ran when" is a walk back to a date."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from branchml.core.names import check_client_id
from branchml.core.plan import Plan, RefUpdate
from branchml.errors import BranchmlError, UsageError, VerdictError
from branchml.ops.release import find, tag_format, verify
from branchml.ops.undolog import PUT_BACK
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
    if canary is not None and canary == tag:
        raise UsageError(f"--canary {canary} is the primary release itself: name another "
                         "release as the candidate, or deploy without --canary.")
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
    commit = repo.commit_files(None, {"deploy.yaml": routing.encode()}, message, dry_run,
                               [old_sha] if old_sha else [])
    g.close()
    pushed = None
    if not dry_run:
        apply.apply(repo, Plan(f"{reason} {client} {tag}", [RefUpdate(ref, old_sha, commit)]))
        if push:
            try:
                pushed = _push(path, remote, ref)
            except BranchmlError:  # refused or unreachable: the local record is taken back
                # (Ctrl-C keeps it: the push may have landed; `branchml push` sends it later)
                apply.apply(repo, Plan(f"undo {reason} {client} {tag} {PUT_BACK}",
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
    """Back to the previous different primary (with only a canary beside the first
    release: that release alone), or `to`; `direction` says which way that
    went by release number: `back` (older), `forward` (newer) or `same` (the primary
    stays; a candidate is dropped)."""
    g = Git(path)
    rows = history(g, client)
    current = rows[0]["primary"]
    if to is None:
        previous = next((r["primary"] for r in rows[1:] if r["primary"] != current), None)
        if previous is None and rows[0]["candidate"]:
            previous = current  # only a canary to take back: the primary alone again
        if previous is None:
            raise UsageError(f"{client} has no earlier release to roll back to (only "
                             f"{current}); name one with --to (`to=` in the API).")
        to = previous
    fmt = tag_format(g)
    now, then = fmt.parse(current), fmt.parse(to)
    g.close()
    r = deploy(path, client, to, reason="rollback", dry_run=dry_run, push=push)
    r["previous"] = current
    r["direction"] = ("same" if to == current or not now or not then else
                      "forward" if then[1] > now[1] else "back")
    return r


def deployed(path: Path, client: str, at: str | None = None) -> dict[str, Any]:
    """The deployment of `client` now, or at `at` (a time without a zone is read in the
    local zone, TZ); `current` says whether it is still the one running, `zone` which zone
    `at` was read in, `at_time` the time as read."""
    g = Git(path)
    rows = history(g, client)
    if at is None:
        return {**_checked(g, client, rows[0]), "client": client, "at": None, "current": True}
    when, zone = _read_time(at)
    for i, r in enumerate(rows):
        if datetime.fromisoformat(r["time"]) <= when:
            return {**_checked(g, client, r), "client": client, "at": at,
                    "at_time": when.isoformat(), "zone": zone, "current": i == 0}
    # before the first deployment: a valid question whose answer is "nothing" (exit 0);
    # primary is None and `first` says when the first deployment came
    return {"client": client, "at": at, "at_time": when.isoformat(), "zone": zone,
            "current": False, "commit": None, "time": None, "primary": None,
            "candidate": None, "fraction": None, "what": None, "first": rows[-1]["time"]}


def _checked(g: Git, client: str, row: dict[str, Any]) -> dict[str, Any]:
    """`row` as the router reads its commit (ops/route.py): a record whose deploy.yaml says
    otherwise than its trailers, or that names no release of `client` here, is refused in
    the router's words, so `deployed` never names what the router does not route to."""
    from branchml.ops.route import record_at

    found = record_at(g, client, row["commit"])
    return {**row, "primary": found.primary, "candidate": found.candidate,
            "fraction": found.fraction}


def _read_time(at: str) -> tuple[datetime, str]:
    """`--at` as an aware time, and the zone it was read in: its own offset, or (none
    given) the local zone, as `date` would read it."""
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise UsageError(f"--at {at!r} is not a date and time like 2026-11-01T12:00.") from None
    if when.tzinfo is not None:
        return when, f"UTC{_offset(when)}, as given"
    local = when.astimezone()  # a naive time: the local zone's wall clock at that date
    return local, f"local zone {local.tzname()}, UTC{_offset(local)}"


def _offset(when: datetime) -> str:
    z = when.strftime("%z") or "+0000"
    return f"{z[:3]}:{z[3:5]}"
