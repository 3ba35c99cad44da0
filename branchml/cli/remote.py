"""Commands: clone, push, sync (a team's shared repository on a Git host with LFS storage)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from branchml import api
from branchml.cli.app import DryRunOpt, JsonOpt, app, emit_json, out

# --- clone and sync ---------------------------------------------------------------------


@app.command()
def clone(
    url: Annotated[str, typer.Argument(help="The remote: a URL, user@host:path, or a folder.")],
    directory: Annotated[str | None, typer.Argument(metavar="DIR",
        help="Folder to make (default: the URL's last part without .git); "
        "it must not exist, or be empty.")] = None,
    branch: Annotated[str, typer.Option(
        "--branch", "-b", help="The typed branch to check out (its LFS objects only).")]
    = "main",
    main: Annotated[str | None, typer.Option(
        "--main", metavar="BRANCH", help="The remote's main branch (default: the branch its "
        "HEAD names, else main); its own branchml.yaml must type it main.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Clone a branchml repository ready to work: every typed branch, releases, deployments,
    hooks; any failure leaves nothing behind."""
    report = api.clone(url, directory, branch, main)
    if as_json:
        return emit_json(report.to_dict())
    out(f"Cloned {report.url} into {report.path} ({report.checked_out} checked out):")
    for note in report.notes:
        out(f"  note: {note}")
    out(f"  branches: {', '.join(report.branches)}")
    out(f"  releases: {len(report.tags)}, deployments: {', '.join(report.deploys) or 'none'}")
    for s in report.skipped:
        out(f"  not fetched: {s['ref']} ({s['why']})")


@app.command()
def sync(
    remote: Annotated[str, typer.Option("--remote", help="The remote to sync with.")]
    = "origin",
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Fetch typed branches, release tags and deploy refs; fast-forward local branches;
    report what changed on the remote. Never rewrites a local ref; a move the checker refuses
    is not made (exit 1)."""
    report = api.sync(".", remote, dry_run)
    if as_json:
        emit_json(report.to_dict())
    else:
        for line in sync_lines(report.to_dict()):
            out(line)
    if report.refused:
        raise typer.Exit(1)


def sync_lines(r: dict[str, Any]) -> list[str]:
    """The text report: what moved here, then what the remote gained, then what needs you."""
    def would(action: str) -> str:
        moves = ("created", "fast-forwarded", "deleted", "moved", "new")
        return f"would be {action}" if r["dry_run"] and action in moves else action

    lines = [f"  {b['branch']}: {would(b['action'])}" + (f" ({b['why']})" if b.get("why")
                                                        else "")
             + (f"\n    resolve with: {b['command']}" if b.get("command") else "")
             + (f"\n    inspect with: {b['inspect']}" if b.get("inspect") else "")
             for b in r["branches"]]
    lines += [f"  tag {t['tag']}: {t['action']}" + (f" ({t['why']})" if t.get("why") else "")
              for t in r["tags"] if t["action"] != "new"]
    lines += [f"  deploy {d['client']}: {would(d['action'])}"
              + (f" -> {d['primary']}" if d.get("primary") else "")
              + (f" ({d['why']})" if d.get("why") else "") for d in r["deploys"]]
    c = r["changes"]
    since = f"since the last sync ({r['since']})" if r["since"] else "since the last fetch"
    news = [f"  new releases: {', '.join(c['releases'])}"] if c["releases"] else []
    news += [f"  {b}: {len(p)} path(s) added or changed: "
             + ", ".join(x["path"] for x in p[:5]) + (" ..." if len(p) > 5 else "")
             for b, p in c["data"].items() if p]
    news += [f"  branches created: {', '.join(c['branches_created'])}"] \
        if c["branches_created"] else []
    news += [f"  branches deleted: {', '.join(c['branches_deleted'])}"] \
        if c["branches_deleted"] else []
    head = [f"Synced with {r['remote']}{' (dry run)' if r['dry_run'] else ''}:"]
    body = lines or ["  every local branch is up to date"]
    tail = ([f"On {r['remote']} {since}:", *news] if news else
            [f"Nothing new on {r['remote']} {since}."])
    tail += [f"Not taken: {x['ref']} ({x['why']})" for x in r["skipped"]
             if x["why"].startswith(("not a commit", "not an annotated tag of"))]
    if r.get("commands_changed"):
        tail.append("This sync changed commands branchml runs here (main's "
                    f"{', '.join(r['commands_changed'])}): read them before the next "
                    "`pull --validate`, `promote` or `monitor check`.")
    if r["attention"]:
        tail.append("Some refs need you: see above (nothing was rewritten).")
    return head + body + tail


# --- push (the clone/sync commands go above this line) -------------------------------------

if TYPE_CHECKING:
    from branchml.ops.push import PushReport

RemoteOpt = Annotated[str, typer.Option(
    "--remote", help="The remote to push to (a name `git remote` lists).")]


@app.command()
def push(
    remote: RemoteOpt = "origin",
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Judge, then push every typed branch, release tag and deploy ref that changed, in one
    atomic push (all refs or none), LFS objects first."""
    with _lfs_progress(enabled=not as_json and sys.stderr.isatty()) as progress:
        r = api.push(".", remote, dry_run, progress)
    if as_json:
        emit_json(r.to_dict())
    else:
        push_text(r)
    if not r.ok:
        raise typer.Exit(1)


def push_text(r: PushReport) -> None:
    """What went (or would go), what was left behind, or why nothing went."""
    if not r.ok:
        v = r.verdict.violations
        sys.stderr.write(f"branchml: push refused here: {len(v)} violation"
                         f"{'s' * (len(v) != 1)} of the policy ({r.verdict.policy_source}); "
                         "nothing was pushed.\n")
        for x in v[:20]:
            where = f"commit {x.commit[:10]}: " if x.commit else ""
            sys.stderr.write(f"  {x.branch}: {where}{x.message}\n")
        if len(v) > 20:
            sys.stderr.write(f"  ... and {len(v) - 20} more (--json lists them all)\n")
        return
    if not r.moves:
        out(f"Nothing to push: {r.remote} has every typed branch, release tag and deploy "
            "ref as they are here.")
    else:
        verb = "Would push" if r.dry_run else "Pushed"
        out(f"{verb} {len(r.moves)} ref{'s' * (len(r.moves) != 1)} to {r.remote} in one "
            f"atomic push (judged: ok, {r.verdict.policy_source}):")
        for m in r.moves:
            was = "new" if set(m.old) == {"0"} else m.old[:10]
            out(f"  {m.ref}  {was} -> {m.new[:10]}")
        if r.lfs_objects:
            verb = "would go" if r.dry_run else "went"
            out(f"  {len(r.lfs_objects)} LFS object(s) {verb} first.")
    for ref in r.behind:
        out(f"Not pushed: {ref} is behind {r.remote}'s: run `branchml sync`.")


@contextmanager
def _lfs_progress(enabled: bool) -> Iterator[Callable[[int, int, str], None] | None]:
    """A rich progress bar on stderr for the LFS upload, on a terminal only."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn("Uploading LFS objects"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[size]}"), console=Console(stderr=True),
                   transient=True)
    task = bar.add_task("lfs", total=None, size="")

    def progress(done: int, total: int, size: str) -> None:
        if not bar.live.is_started:  # shown once an upload starts, not for a push without
            bar.start()
        bar.update(task, completed=done, total=total, size=size)

    try:
        yield progress
    finally:
        bar.stop()
