"""Commands: train, reproduce (issue 21, r1; docs/reproducibility.md)."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from branchml import api
from branchml.cli import complete
from branchml.cli.app import DryRunOpt, JsonOpt, app, emit_json, out


@app.command("train")
def train_cmd(dry_run: DryRunOpt = False, as_json: JsonOpt = False) -> None:
    """Run main's train.command in this stable checkout, then record the environment it ran
    in (tracking/environment.json). Nothing is committed."""
    r = api.train(".", dry_run)
    if as_json:
        return emit_json(r.to_dict())
    where = f"Python {r.python}, {r.packages} packages"
    if dry_run:
        return out(f"Would run `{shlex.join(r.command)}` on {r.branch}, then write "
                   f"tracking/environment.json ({where}).")
    out(f"Trained on {r.branch} with `{shlex.join(r.command)}` and recorded "
        f"{r.environment_file} ({where}): commit models/, tracking/ "
        "(and mlruns/ when MLflow ran) now.")


@app.command()
def reproduce(
    tag: Annotated[str, typer.Argument(help="Release tag to re-run.",
                                        autocompletion=complete.tags)],
    keep: Annotated[bool, typer.Option(
        "--keep", help="Keep the temporary worktree of the re-run (its path is printed).")]
    = False,
    as_json: JsonOpt = False,
) -> None:
    """Re-run a verified release's recorded train.command in a temporary worktree of its
    commit and compare models, metrics and environment; exit 1 when it differs."""
    r = api.reproduce(tag, ".", keep)
    if as_json:
        emit_json(r.to_dict())
    else:
        if r.interpreter:
            out(r.interpreter)
        out(f"{r.tag}: {r.verdict} (re-ran `{shlex.join(r.command)}` at {r.commit[:10]}).")
        for path, state in r.models.items():
            out(f"  model {path}: {state}")
        for line in r.differences:
            out(f"  differs: {line}")
        for line in r.within:
            out(f"  within tolerance: {line}")
        _environment_out(r.environment)
        if r.kept:
            # --force: the kept folder holds the re-run's outputs, which plain `remove` refuses
            out(f"Kept the worktree at {r.kept} (remove it with "
                f"`git worktree remove --force {shlex.quote(r.kept)}`).")
    if not r.ok:
        raise typer.Exit(1)


# a package change lists every package that moved (~150 on a new Python): the text stops at
# this many, --json keeps them all
ENVIRONMENT_LINES = 20


def _environment_out(changes: list[str]) -> None:
    if not changes:
        return
    out("Environment differences (listed only; they never change the verdict):")
    for line in changes[:ENVIRONMENT_LINES]:
        out(f"  {line}")
    if len(changes) > ENVIRONMENT_LINES:
        out(f"  ... and {len(changes) - ENVIRONMENT_LINES} more (--json lists all)")
