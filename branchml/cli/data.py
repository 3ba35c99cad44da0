"""Commands: merge, pull, split, and the hidden merge-driver."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from branchml import api
from branchml.cli import complete
from branchml.cli.app import (
    DryRunOpt,
    JsonOpt,
    app,
    emit_json,
    out,
)


@app.command("merge")
def merge_cmd(
    src: Annotated[str, typer.Argument(help="Branch to merge from.",
                                        autocompletion=complete.branches)],
    into: Annotated[str | None, typer.Option(
        "--into", help="Branch to merge into (default: the current branch).",
        autocompletion=complete.branches)] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Merge SRC into DST by path class: data appended, models overwritten, code 3-way."""
    result = api.merge(src, into, ".", dry_run=dry_run)
    _render_merge(result, as_json)


@app.command("pull")
def pull_cmd(
    src: Annotated[str, typer.Argument(help="Data branch to pull from (raw, clean, split...).",
                                        autocompletion=complete.branches)],
    dst: Annotated[str, typer.Argument(help="Branch to pull into (clean, split, stable/*...).",
                                        autocompletion=complete.branches)],
    validate: Annotated[bool, typer.Option(
        "--validate", help="Drop bad new items (empty, unparsable, failing the config's "
        "schema or command) and commit a report beside the data.")] = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Bring SRC's new data into DST (append); nothing else moves."""
    result = api.pull(src, dst, ".", validate=validate, dry_run=dry_run)
    _render_merge(result, as_json)


def _render_merge(result: Any, as_json: bool) -> None:
    from branchml.cli.render import merge_out

    merge_out(result, as_json)


split_app = typer.Typer(help="Assign items to train/val/test; `split rows` reads one split.",
                        invoke_without_command=True)
app.add_typer(split_app, name="split")


@split_app.callback()
def split_cmd(
    ctx: typer.Context,
    seed: Annotated[int | None, typer.Option(
        help="Hash seed (default: the recorded one, else the config's, else 0).")] = None,
    ratios: Annotated[str | None, typer.Option(
        help="train,val[,test] fractions adding up to 1 (default: the recorded ones, else "
        "0.8,0.1,0.1).")] = None,
    key: Annotated[str | None, typer.Option(
        help="Column (CSV) or field (JSONL) whose value is an item; default: each file.")]
    = None,
    skip_empty_keys: Annotated[bool, typer.Option(
        "--skip-empty-keys", help="Leave rows whose --key value is empty or absent "
        "unassigned and report them (default: refuse).")] = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Assign every new item on the split branch to train/val/test, stably."""
    if ctx.invoked_subcommand is not None:
        return None
    report = api.split(".", seed, ratios, key, dry_run, skip_empty_keys=skip_empty_keys)
    if as_json:
        return emit_json(report.to_dict())
    if not report.added:
        out(f"Nothing to split: all {report.total} item(s) are assigned already.")
    else:
        counts = ", ".join(f"{n} to {k}" for k, n in sorted(report.added.items()))
        verb = "Would assign" if dry_run else "Assigned"
        out(f"{verb} {sum(report.added.values())} new item(s) on {report.branch}: {counts} "
            f"(seed {report.seed}, ratios {','.join(map(str, report.ratios))}).")
    for path, n in report.empty_keys.items():
        rows = ", ".join(map(str, report.empty_key_rows[path]))
        out(f"Left unassigned: {n} row(s) of {path} with no {report.key} value (rows {rows}"
            f"{', ...' if n > len(report.empty_key_rows[path]) else ''}).")


@split_app.command("rows")
def split_rows_cmd(
    name: Annotated[str, typer.Argument(
        help="Split to read: train, val or test, or several joined by commas (train,val).")],
    output: Annotated[str, typer.Option(
        "-o", "--output", help="File to write the rows to (CSV/TSV with its header, or "
        "JSON lines, as the data is).")],
    purpose: Annotated[str, typer.Option(
        "--for", metavar="train|tune|evaluate",
        help="What the rows are for: train, tune or evaluate (recorded; `tag` "
        "refuses training on test).")] = "train",
    rev: Annotated[str | None, typer.Option(
        help="Commit holding the assignment and data (default: the checked-out commit when "
        "it holds one, as stable/* does after `pull split`, else the split branch).")] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write the rows of a split to a file, and record the request in tracking/splits.jsonl."""
    from pathlib import Path

    r = api.split_rows(name, Path(output), purpose, ".", rev, dry_run)
    if as_json:
        return emit_json(r.to_dict())
    if dry_run:
        return out(f"Would write {r.rows} row(s) ({r.items} item(s)) of {r.split} to {r.file} "
                   f"for {r.purpose}, from {r.branch} {r.data_commit[:10]}, and record it in "
                   f"{r.record_file}.")
    out(f"Wrote {r.rows} row(s) ({r.items} item(s)) of {r.split} to {r.file} for "
        f"{r.purpose}, from {r.branch} {r.data_commit[:10]}; recorded in {r.record_file} "
        "(commit it with the training results).")


@app.command("merge-driver", hidden=True)
def merge_driver(
    strategy: Annotated[str, typer.Argument(help="append or overwrite.")],
    base: Annotated[str, typer.Argument(help="%O: the ancestor's version.")],
    ours: Annotated[str, typer.Argument(help="%A: ours; the result is written here.")],
    theirs: Annotated[str, typer.Argument(help="%B: theirs.")],
    path: Annotated[str, typer.Argument(help="%P: the path in the repository.")],
) -> None:
    """Run by git for paths with merge=branchml-* in .gitattributes."""
    from branchml.ops.merge_driver import run as run_driver

    raise typer.Exit(run_driver(strategy, base, ours, theirs, path))


