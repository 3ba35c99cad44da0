"""Commands: promote, tag, releases, show, verify, lineage, diff, deploy, rollback, deployed."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import Annotated

import typer

from branchml import api
from branchml.cli import complete
from branchml.cli.app import (
    ClientOpt,
    DryRunOpt,
    JsonOpt,
    app,
    emit_json,
    out,
)


@app.command()
def promote(
    src: Annotated[str, typer.Argument(help="Code branch to promote (dev/NAME).",
                                        autocompletion=complete.branches)],
    dst: Annotated[str, typer.Argument(help="Stable branch to promote into (stable/NAME).",
                                        autocompletion=complete.branches)],
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Make DST's code exactly SRC's (one commit); DST's data, models, tracking stay."""
    r = api.promote(src, dst, ".", dry_run)
    if as_json:
        return emit_json(r.to_dict())
    if r.up_to_date:
        return out(f"Nothing to promote: {dst} already has {src}'s code.")
    verb = "Would promote" if dry_run else "Promoted"
    out(f"{verb} {src} {r.src_commit[:10]} into {dst}"
        + (f" (commit {r.commit[:10]})" if not dry_run else "") + ":")
    added, deleted = set(r.added), set(r.deleted)
    for p in r.changed:  # + new, - removed, ~ changed: as `merge` and `pull` mark them
        out(f"  {'+' if p in added else '-' if p in deleted else '~'} {p}")
    if r.gates and not dry_run:
        out("Gates passed: " + "; ".join(r.gates))


@app.command("tag")
def tag_cmd(
    client: ClientOpt,
    rev: Annotated[str | None, typer.Option(
        help="Stable commit or branch to release (default: the stable branch).",
        autocompletion=complete.revisions)] = None,
    message: Annotated[str, typer.Option("-m", "--message", help="Release notes.")] = "",
    push: Annotated[bool, typer.Option(
        "--push", help="Push the tag to origin atomically; fail cleanly if the name is taken.")]
    = False,
    allow_same: Annotated[bool, typer.Option(
        "--allow-same", help="Tag even when the last release has the same content.")] = False,
    next_name: Annotated[bool, typer.Option(
        "--next", help="Print the name the next release will get; write nothing.")] = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Release: an annotated tag CLIENT-vN with the model-data-code manifest."""
    from branchml.cli.render import next_out, tag_out

    if next_name:
        return next_out(api.next_release(client, "."), as_json)
    tag_out(api.tag(client, rev, ".", message, push, allow_same, dry_run), push, as_json,
            dry_run)


@app.command()
def releases(
    client: Annotated[str | None, typer.Option(help="Only this client's releases.",
                                                autocompletion=complete.clients)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every release with its date, model and key metrics (from tags alone)."""
    from branchml.cli.render import releases_out

    releases_out(api.releases(".", client), as_json)


@app.command()
def show(
    tag: Annotated[str, typer.Argument(help="Release tag, e.g. acme-v3.",
                                        autocompletion=complete.tags)],
    as_json: JsonOpt = False,
) -> None:
    """The manifest of a release: code, data, models, params, metrics, lineage."""
    from branchml.cli.render import show_out

    show_out(api.show(tag, "."), as_json)


@app.command()
def verify(
    tag: Annotated[str, typer.Argument(help="Release tag to check.",
                                        autocompletion=complete.tags)],
    as_json: JsonOpt = False,
) -> None:
    """Recompute a release's manifest from its commit, and the size and SHA-256 of every LFS
    object it names from the LFS store; exit 1 naming what differs."""
    from branchml.cli.render import verify_out

    if not verify_out(api.verify(tag, "."), as_json):
        raise typer.Exit(1)


@app.command()
def lineage(
    file: Annotated[str, typer.Argument(help="Model file, e.g. models/model.pkl.")],
    rev: Annotated[str | None, typer.Option(help="Release tag or commit (default HEAD).",
                                             autocompletion=complete.revisions)]
    = None,
    as_json: JsonOpt = False,
    rows: Annotated[bool, typer.Option(
        "--rows", help="Also count the rows it trained on per upload on the raw branch.")]
    = False,
    raw: Annotated[str | None, typer.Option(
        help="The raw branch (with --rows; default: the data branch made from main).",
        autocompletion=complete.branches)] = None,
) -> None:
    """What data and code produced a model, and which releases contain it."""
    r = api.row_lineage(file, rev, ".", raw) if rows else api.lineage(file, rev, ".")
    if as_json:
        return emit_json(r)
    ident = r["model"].get("lfs_oid") or r["model"].get("blob") or ""
    out(f"{file} {ident[:12]} ({r['model']['size']} bytes) at {r['commit'][:10]}")
    promo = r.get("promotion")
    out(f"  code: {r['code']['files']} files" + (f", promoted from {promo['branch']} "
                                                 f"{promo['commit'][:10]}" if promo else ""))
    for p, d in r["data"].items():
        src = d.get("from")
        out(f"  data in {p}/: {d['files']} file(s), {d['bytes']} bytes, tree {d['tree'][:10]}"
            + (f", from {src['branch']} {src['commit'][:10]}" if src else ""))
    from branchml.cli.render import chain_text, splits_text

    splits_text(r["splits"])
    chain_text(r["chain"])
    out("  releases: " + (", ".join(r["releases"]) or "none"))
    if rows:
        from branchml.cli.impact import rows_text

        rows_text(r.get("rows"))  # type: ignore[arg-type]


@app.command()
def diff(
    tag_a: Annotated[str, typer.Argument(help="Older release tag.",
                                          autocompletion=complete.tags)],
    tag_b: Annotated[str, typer.Argument(help="Newer release tag.",
                                          autocompletion=complete.tags)],
    as_json: JsonOpt = False,
) -> None:
    """What changed between two releases: code, data (files, bytes, and rows per data file
    for row formats; validation reports marked), models, params and metrics."""
    from branchml.cli.render import diff_text

    d = api.diff(tag_a, tag_b, ".")
    if as_json:
        return emit_json(d)
    diff_text(d)


PushOpt = Annotated[bool, typer.Option(
    "--push", help="Push refs/deploy/CLIENT to origin (judged, atomic); a failed push moves "
    "the local ref back.")]


def _pushed(r: Mapping[str, object]) -> str:
    pushed = r.get("pushed")
    return ", pushed to origin" if pushed is True else \
        ", origin already had it" if pushed is False else ""


@app.command("deploy")
def deploy_cmd(
    tag: Annotated[str, typer.Argument(help="Release to run as primary.",
                                        autocompletion=complete.tags)],
    client: ClientOpt,
    canary: Annotated[str | None, typer.Option(help="Candidate release for a share of traffic.",
                                                autocompletion=complete.tags)]
    = None,
    fraction: Annotated[float | None, typer.Option(help="Candidate's share, 0 < F < 1.")] = None,
    push: PushOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Record that CLIENT runs TAG (refs/deploy/CLIENT, with history); refuses unverified tags."""
    r = api.deploy(client, tag, ".", canary, fraction, dry_run, push)
    if as_json:
        return emit_json(r)
    verb = "would run" if dry_run else "now runs"
    out(f"{client} {verb} {tag}" + (f", candidate {canary} at {fraction:g}" if canary else "")
        + f" (refs/deploy/{client} {r['commit'][:10]}{_pushed(r)}).")



@app.command()
def rollback(
    client: ClientOpt,
    to: Annotated[str | None, typer.Option(
        help="Release to move to (default: the previous different one).",
        autocompletion=complete.tags)]
    = None,
    push: PushOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Move CLIENT back to the previous different release (or to the one --to names, which
    may be newer: that is a roll forward, and it says so)."""
    r = api.rollback(client, to, ".", dry_run, push)
    if as_json:
        return emit_json(r)
    ref = f"(refs/deploy/{client} {r['commit'][:10]}{_pushed(r)})"
    if r.get("already"):
        return out(f"{client} already runs {r['primary']} alone; nothing changed {ref}.")
    verb = "would roll" if dry_run else "rolled"
    if r["direction"] == "same":  # the primary stays; its candidate goes
        return out(f"{client} {verb} back to {r['primary']} alone, without the candidate "
                   f"{ref}.")
    way = "forward to the newer" if r["direction"] == "forward" else "back to"
    out(f"{client} {verb} {way} {r['primary']} (from {r['previous']}) {ref}.")


@app.command()
def deployed(
    client: ClientOpt,
    at: Annotated[str | None, typer.Option(
        help="When, e.g. 2026-11-01T12:00+01:00 (default: now); a time without a zone is "
             "read in the local zone (TZ), which the output names.")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """Which release CLIENT ran (now, or at a given time)."""
    from branchml.cli.render import deployed_out

    deployed_out(api.deployed(client, at, "."), as_json)




# --- issue 19: online experiments (s5) ---
@app.command()
def route(
    keys: Annotated[list[str], typer.Argument(help="Request keys (e.g. user ids) to route.")],
    client: ClientOpt,
    as_json: JsonOpt = False,
) -> None:
    """Which release of CLIENT serves each KEY (by refs/deploy/CLIENT), as serving code would."""
    router = api.Router(client, ".")
    routes = [(k, router.route(k)) for k in keys]
    if as_json:
        return emit_json({"client": client, "commit": router.routing.commit,
                          "routes": [{"key": k, "tag": t} for k, t in routes]})
    for k, t in routes:
        out(f"{k}\t{t}")


import_module("branchml.cli.impact")  # issue 21: `impact`, beside `lineage` in --help
