"""Commands: track, runs, monitor, analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from branchml import api
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
from branchml.errors import StateError, UsageError


@app.command()
def track(
    src: Annotated[str | None, typer.Argument(
        help="Stable branch, commit or release tag (default: the stable branch).")] = None,
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


def _pick(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    found = [r for r in rows if key in r.get("tags", []) or r["commit"].startswith(key)]
    if len(found) != 1:
        raise UsageError(f"{key!r} names {'no' if not found else 'more than one'} run in "
                         "main's run log; give a tag or a longer commit prefix"
                         + (f" (or track it first: `branchml track {key}`)." if not found
                            else "."))
    return found[0]


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
    rows = api.runs(".")
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
    a: Annotated[str, typer.Argument(help="Run: a tag or a commit prefix.")],
    b: Annotated[str, typer.Argument(help="Run: a tag or a commit prefix.")],
    as_json: JsonOpt = False,
) -> None:
    """Params and metrics of two runs side by side, with deltas."""
    rows = api.runs(".")
    ra, rb = _pick(rows, a), _pick(rows, b)
    table = {}
    for kind in ("params", "metrics"):
        for k in sorted(set(ra[kind]) | set(rb[kind])):
            x, y = ra[kind].get(k), rb[kind].get(k)
            d = y - x if isinstance(x, int | float) and isinstance(y, int | float) else None
            table[f"{kind[:-1]} {k}"] = {"a": x, "b": y, "delta": d}
    if as_json:
        return emit_json(table)
    out(f"{'':<24} {a:>14} {b:>14} {'delta':>10}")
    for k, v in table.items():
        delta = f"{v['delta']:+.4g}" if v["delta"] is not None else ""
        out(f"{k:<24} {v['a']!s:>14} {v['b']!s:>14} {delta:>10}")


@runs_app.command("plot")
def runs_plot(
    metric: Annotated[str, typer.Argument(help="Metric to draw across runs.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PNG file to write.")],
) -> None:
    """Draw a metric across runs, oldest to newest, labelled by tag (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from branchml.errors import ToolMissing

        raise ToolMissing("runs plot needs matplotlib: pip install 'branchml[plot]'.") from None
    rows = [r for r in api.runs(".")[::-1] if metric in r["metrics"]]
    if not rows:
        raise UsageError(f"no run on main has the metric {metric!r}.")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(range(len(rows)), [float(r["metrics"][metric]) for r in rows], marker="o")
    ax.set_xticks(range(len(rows)), [r.get("tag") or r["commit"][:7] for r in rows],
                  rotation=45, ha="right")
    ax.set_ylabel(metric)
    fig.tight_layout()
    fig.savefig(output)
    out(f"Wrote {output} ({len(rows)} runs).")


@monitor_app.command("log")
def monitor_log(
    files: Annotated[list[Path], typer.Argument(help="CSV/TSV/JSONL files of inputs and "
                                                     "predictions.")],
    client: ClientOpt,
    tag: Annotated[str, typer.Option("--tag", help="The release that produced them.")],
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Append production files under monitoring/CLIENT/TAG/DATE/ (one commit)."""
    from branchml.ops import monitor

    r = monitor.log(Path("."), client, tag, files, dry_run)
    if as_json:
        return emit_json(r.to_dict())
    if r.already:
        out(f"Already logged (same rows, nothing added): {', '.join(r.already)}.")
    if r.files:
        out(("Would log " if dry_run else "Logged ") + ", ".join(r.files) + ".")


@monitor_app.command("check")
def monitor_check(
    tag: Annotated[str, typer.Option("--tag", help="Release whose monitored data to check.")],
    since: Annotated[str | None, typer.Option(help="Only files logged on or after this "
                                                   "date (YYYY-MM-DD).")] = None,
    report: Annotated[Path | None, typer.Option(
        help="Write a report: .html (a chart per feature) or .md.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Drift of monitored data against the release's training data; exit 1 on an alert."""
    from branchml.cli.render import drift_html, drift_markdown
    from branchml.ops import monitor

    if report is not None:
        _check_report_path(report)  # before the work, so a bad name costs nothing
    r = monitor.check(Path("."), tag, since)
    if report is not None:
        _write_report(report, drift_html(r) if report.suffix == ".html" else drift_markdown(r))
    if as_json:
        emit_json(r)
    else:
        out(drift_markdown(r).rstrip())
    if r["alerts"]:
        raise typer.Exit(1)


REPORT_SUFFIXES = (".html", ".md")


def _check_report_path(report: Path) -> None:
    if report.is_dir():
        raise UsageError(f"--report {report} is a folder; give a file name ending in .html "
                         "or .md.")
    if report.suffix not in REPORT_SUFFIXES:
        raise UsageError(f"--report {report}: a report is written as .html or .md, not "
                         f"{report.suffix or 'a file without an extension'}; rename it.")
    if not report.parent.is_dir():
        raise UsageError(f"--report {report}: the folder {report.parent} does not exist; "
                         "create it first.")


def _write_report(report: Path, text: str) -> None:
    try:
        report.write_text(text, encoding="utf-8")
    except OSError as e:
        raise StateError(f"--report {report} cannot be written ({e.strerror}); give a file "
                         "you can write.") from None


@analysis_app.command("start")
def analysis_start(
    client: Annotated[str, typer.Argument(help="Client id: creates ds/CLIENT.")],
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create ds/CLIENT from main with CLIENT's monitoring data, raw data and a stub."""
    from branchml.ops import analysis

    r = analysis.start(Path("."), client, dry_run)
    if as_json:
        return emit_json(r)
    verb = "Would create" if dry_run else "Created"
    out(f"{verb} ds/{client} ({r['files']} data file(s), notebook stub {r['stub']}).")


