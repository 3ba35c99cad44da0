"""Commands: track, runs, monitor, analysis."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from branchml import api
from branchml.cli import complete
from branchml.cli.app import (
    ClientOpt,
    DryRunOpt,
    JsonOpt,
    analysis_app,
    app,
    emit_json,
    monitor_app,
    out,
    runs_app,
)
from branchml.errors import UsageError


@app.command()
def track(
    src: Annotated[str | None, typer.Argument(
        help="Stable branch, commit or release tag (default: the stable branch).",
        autocompletion=complete.revisions)] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Copy a stable commit's tracking (and MLflow runs) onto main, as one commit."""
    r = api.track(src, ".", dry_run)
    if as_json:
        return emit_json(r.to_dict())
    what = r.tag or f"{r.branch} {r.commit[:10]}"
    if r.already:
        return out(f"Nothing to track: {what} is in main's run log already.")
    verb = "Would track" if dry_run else "Tracked"
    out(f"{verb} {what} onto main: {len(r.files)} file(s), "
        f"{len(r.mlflow_runs)} MLflow run(s)"
        + (f"; {len(r.mlflow_present)} run(s) were there already" if r.mlflow_present else "")
        + ".")


@runs_app.callback()
def runs_list(
    ctx: typer.Context,
    sort: Annotated[str | None, typer.Option(
        help="Sort by this metric, best first: ascending (lowest first) for a loss or an "
             "error by its name (loss, error, mse, rmse, mae, ...: see docs), descending "
             "for any other; runs without it last.")] = None,
    ascending: Annotated[bool | None, typer.Option(
        "--asc/--desc", help="With --sort: lowest first (--asc) or highest first (--desc), "
                             "instead of the direction the metric's name gives.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every tracked run, newest first (or by a metric), with the releases on its commit."""
    if ctx.invoked_subcommand is not None:
        return
    if ascending is not None and not sort:
        raise UsageError("--asc and --desc say which way --sort goes: name the metric with "
                         "--sort METRIC.")
    rows = cast("list[dict[str, Any]]", api.runs("."))
    order = ""
    if sort:
        from branchml.core.runsort import lower_is_better, sort_runs

        rows = [dict(r) for r in sort_runs(rows, sort, ascending)]
        up = lower_is_better(sort) if ascending is None else ascending
        order = f"best {sort} first ({'lowest' if up else 'highest'} first)"
    if as_json:
        return emit_json(rows)
    if not rows:
        return out("No runs on main yet: `branchml track stable/NAME` adds one.")
    from branchml.cli.render import runs_table

    runs_table(rows, order)


@runs_app.command("compare")
def runs_compare(
    a: Annotated[str, typer.Argument(help="Run: a tag or a commit prefix.",
                                      autocompletion=complete.tags)],
    b: Annotated[str, typer.Argument(help="Run: a tag or a commit prefix.",
                                      autocompletion=complete.tags)],
    as_json: JsonOpt = False,
) -> None:
    """Params and metrics of two runs side by side, with deltas."""
    table = api.runs_compare(a, b, ".")
    if as_json:
        return emit_json(table.to_dict())
    out(f"{'':<24} {a:>14} {b:>14} {'delta':>10}")
    for k, v in table.rows.items():
        delta = f"{v.delta:+.4g}" if v.delta is not None else ""
        out(f"{k:<24} {v.a!s:>14} {v.b!s:>14} {delta:>10}")


@runs_app.command("plot")
def runs_plot(
    metric: Annotated[str, typer.Argument(help="Metric to draw across runs.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG file to write.")],
    as_json: JsonOpt = False,
) -> None:
    """Draw a metric across runs, oldest to newest, labelled by tag (needs matplotlib)."""
    r = api.runs_plot(metric, output, ".")
    if as_json:
        return emit_json(r.to_dict())
    out(f"Wrote {r.output} ({len(r.runs)} runs).")


@monitor_app.command("log")
def monitor_log(
    files: Annotated[list[Path], typer.Argument(help="CSV/TSV/JSONL/Parquet files of "
                                                     "inputs and predictions (Parquet with "
                                                     "pyarrow installed).")],
    client: ClientOpt,
    tag: Annotated[str, typer.Option("--tag", help="The release that produced them.",
                                     autocompletion=complete.tags)],
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    date: Annotated[str | None, typer.Option(
        "--date", help="The day the rows are from (YYYY-MM-DD, default today in UTC): "
                       "backfill a day from the release's tag date on (an earlier row cannot "
                       "be its prediction; log it under the release that served then).")
    ] = None,
) -> None:
    """Append production files under monitoring/CLIENT/TAG/DATE/ (one commit)."""
    r = api.monitor_log(list(files), client, tag, ".", dry_run, date)
    if as_json:
        return emit_json(r.to_dict())
    if r.already:
        out(f"Already logged (same rows, nothing added): {', '.join(r.already)}.")
    if r.files:
        out(("Would log " if dry_run else "Logged ") + ", ".join(r.files) + ".")


@monitor_app.command("check")
def monitor_check(
    tag: Annotated[str, typer.Option("--tag", help="Release whose monitored data to check.",
                                     autocompletion=complete.tags)],
    since: Annotated[str | None, typer.Option(help="Only files logged on or after this "
                                                   "date (YYYY-MM-DD).")] = None,
    report: Annotated[Path | None, typer.Option(
        help="Write a report: .html (one self-contained page: verdict, sortable table, "
             "charts) or .md (for a pull request).")] = None,
    window: Annotated[str | None, typer.Option(
        help="The statistics per time window too: Nd or Nh (1d, 7d, 12h), by the timestamp "
             "column, else by the date the files were logged.")] = None,
    notify: Annotated[bool, typer.Option(
        "--notify/--no-notify", help="On an alert, send the result to monitor.alerts "
                                     "(main's branchml.yaml); --no-notify skips it.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Drift of monitored data against the release's training data; exit 1 on an alert."""
    from branchml.core.driftreport import drift_text

    r = (api.monitor_check(tag, since, ".", window) if report is None
         else api.monitor_report(tag, report, since, ".", window))
    if as_json:
        emit_json(r)
    else:  # plain text, not Markdown: read on a terminal (the .md report is for PRs)
        out(drift_text(r).rstrip())  # it says how many rows fell in no window
        skipped = cast("list[str]", r.get("skipped") or [])
        if skipped:  # issue 19 (f4): files outside a YYYY-MM-DD/ folder are not monitored rows
            out(f"Skipped {len(skipped)} file(s) outside a YYYY-MM-DD/ folder: "
                f"{', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}.")
    if r["alerts"]:
        if notify:
            for warning in api.monitor_notify(r, ".").warnings:
                sys.stderr.write(f"branchml: warning: {warning}\n")
        raise typer.Exit(1)


@analysis_app.command("start")
def analysis_start(
    client: Annotated[str, typer.Argument(help="Client id: creates ds/CLIENT.",
                                           autocompletion=complete.clients)],
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create ds/CLIENT from main with CLIENT's monitoring data, raw data and a stub."""
    r = api.analysis_start(client, ".", dry_run)
    if as_json:
        return emit_json(r)
    verb = "Would create" if dry_run else "Created"
    out(f"{verb} ds/{client} ({r['files']} data file(s), notebook stub {r['stub']}).")




# --- issue 19: online experiments (s5) ---
@monitor_app.command("compare")
def monitor_compare(
    a: Annotated[str, typer.Argument(help="Release A, the old release: the primary in a "
                                          "forward test, the one kept on 1% in a backtest. "
                                          "Every figure is B - A.",
                                     autocompletion=complete.tags)],
    b: Annotated[str, typer.Argument(help="Release B, the new release: the canary in a "
                                          "forward test, the new primary in a backtest.",
                                     autocompletion=complete.tags)],
    client: ClientOpt,
    since: Annotated[str | None, typer.Option(help="Only files logged on or after this "
                                                   "date (YYYY-MM-DD): the day the canary "
                                                   "started, or the day of the switch.")
                      ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare two releases of CLIENT on their monitored rows (predictions; metrics with labels)."""
    from branchml.core.comparetext import compare_text

    r = api.monitor_compare(client, a, b, since, ".")
    if as_json:
        return emit_json(cast("dict[str, Any]", r))
    out(compare_text(r))
