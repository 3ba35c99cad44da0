"""Commands: clone, push, sync (a team's shared repository on a Git host with LFS storage)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from branchml import api
from branchml.cli.app import DryRunOpt, JsonOpt, app, emit_json, out

# --- clone and sync ---------------------------------------------------------------------


@app.command()
def clone(
    url: Annotated[str, typer.Argument(help="The remote: a URL, user@host:path, or a folder.")],
    directory: Annotated[str | None, typer.Argument(
        metavar="[DIR]", help="Folder to make (default: the URL's last part without .git); "
        "it must not exist, or be empty.")] = None,
    branch: Annotated[str, typer.Option(
        "--branch", "-b", help="The typed branch to check out (its LFS objects only).")]
    = "main",
    as_json: JsonOpt = False,
) -> None:
    """Clone a branchml repository ready to work: every typed branch, releases, deployments,
    hooks; any failure leaves nothing behind."""
    report = api.clone(url, directory, branch)
    if as_json:
        return emit_json(report.to_dict())
    out(f"Cloned {report.url} into {report.path} ({report.checked_out} checked out):")
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
    report what changed on the remote. Never rewrites a local ref."""
    report = api.sync(".", remote, dry_run)
    if as_json:
        return emit_json(report.to_dict())
    for line in sync_lines(report.to_dict()):
        out(line)


def sync_lines(r: dict[str, Any]) -> list[str]:
    """The text report: what moved here, then what the remote gained, then what needs you."""
    def would(action: str) -> str:
        moves = ("created", "fast-forwarded", "deleted", "moved", "new")
        return f"would be {action}" if r["dry_run"] and action in moves else action

    lines = [f"  {b['branch']}: {would(b['action'])}" + (f" ({b['why']})" if b.get("why")
                                                        else "")
             + (f"\n    resolve with: {b['command']}" if b.get("command") else "")
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
    if r["attention"]:
        tail.append("Some refs need you: see above (nothing was rewritten).")
    return head + body + tail
