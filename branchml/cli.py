"""Thin typer layer: options -> api -> render (text, or --json). No logic lives here."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from branchml import __version__, api
from branchml.errors import UsageError

app = typer.Typer(
    name="branchml",
    help="A Git repository as the whole home of an ML project: typed branches, policed moves.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
config_app = typer.Typer(help="Validate, show and describe branchml.yaml.", no_args_is_help=True)
branch_app = typer.Typer(help="Create branches that match a branch type.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(branch_app, name="branch")
runs_app = typer.Typer(help="The run log on main: list, compare, plot.",
                       invoke_without_command=True)
app.add_typer(runs_app, name="runs")
monitor_app = typer.Typer(help="Production data on the monitoring branch, and drift checks.",
                          no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")
analysis_app = typer.Typer(help="Analysis branches ds/CLIENT.", no_args_is_help=True)
app.add_typer(analysis_app, name="analysis")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the plan; write nothing.")]


def out(text: str) -> None:
    sys.stdout.write(text + "\n")


def emit_json(data: Any) -> None:
    out(json.dumps(data, indent=2, sort_keys=False, default=str))


def _version(value: bool) -> None:
    if value:
        out(f"branchml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    directory: Annotated[Path | None, typer.Option(
        "-C", help="Run as if branchml was started in this folder (like git -C).")] = None,
    version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    if directory is not None:
        if not directory.is_dir():
            raise UsageError(f"-C {directory}: no such folder.")
        os.chdir(directory)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Folder of the repository (created if missing).")]
    = Path("."),
    model: Annotated[str, typer.Option(help="Model name: creates dev/NAME and stable/NAME.")]
    = "model",
    no_hooks: Annotated[bool, typer.Option("--no-hooks", help="Do not install git hooks.")]
    = False,
    no_lfs: Annotated[bool, typer.Option(
        "--no-lfs", help="Keep data and models as plain git blobs (no git-lfs).")] = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a repository laid out for the workflow, or adopt an existing one."""
    report = api.init(path, model, not no_hooks, not no_lfs, dry_run)
    if as_json:
        return emit_json(report.to_dict())
    if report.nothing_to_do:
        return out(f"Nothing to do: {report.path} is already set up for branchml.")
    head = "Would do" if dry_run else "Done"
    out(f"{head} in {report.path}:")
    for step in report.steps:
        out(f"  - {step}")
    if report.kept:
        out(f"Kept existing branches: {', '.join(report.kept)}")
    for note in report.notes:
        out(f"Note: {note}")


@app.command()
def install(
    uninstall: Annotated[bool, typer.Option(
        "--uninstall", help="Remove branchml's hooks and put back the ones they replaced.")]
    = False,
    no_lfs: Annotated[bool, typer.Option("--no-lfs", help="Skip git-lfs filters and hooks.")]
    = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Set up hooks and git-lfs in a fresh clone (they do not travel with a clone)."""
    report = api.install(".", uninstall, dry_run, no_lfs)
    if as_json:
        return emit_json(report.to_dict())
    if report.nothing_to_do:
        return out("Nothing to do: hooks and filters are already as branchml wants them.")
    out(("Would do" if dry_run else "Done") + f" (hooks in {report.hooks_dir}):")
    for step in report.steps:
        out(f"  - {step}")


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Each branch with its type, head, and what may change on it."""
    report = api.status(".")
    if as_json:
        return emit_json(report.to_dict())
    from branchml.render import status_table

    status_table(report)


@app.command()
def check(
    staged: Annotated[bool, typer.Option(
        "--staged", help="Judge the staged changes (what the pre-commit hook runs).")] = False,
    range_: Annotated[str | None, typer.Option(
        "--range", metavar="A..B", help="Judge the commits of A..B (pre-push, server, CI).")]
    = None,
    branch: Annotated[str | None, typer.Option(
        help="Branch whose rules apply to --range (default: the current branch).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Judge changes against the policy on main. Exit 1 on a violation."""
    result = api.check(".", staged, range_, branch)
    if as_json:
        emit_json(result.to_dict())
    else:
        from branchml.render import check_text

        check_text(result)
    if not result.ok:
        raise typer.Exit(1)


@app.command("merge")
def merge_cmd(
    src: Annotated[str, typer.Argument(help="Branch to merge from.")],
    into: Annotated[str | None, typer.Option(
        "--into", help="Branch to merge into (default: the current branch).")] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Merge SRC into DST by path class: data appended, models overwritten, code 3-way."""
    result = api.merge(src, into, ".", dry_run=dry_run)
    _render_merge(result, as_json)


@app.command("pull")
def pull_cmd(
    src: Annotated[str, typer.Argument(help="Data branch to pull from (raw, clean, split...).")],
    dst: Annotated[str, typer.Argument(help="Branch to pull into (clean, split, stable/*...).")],
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
    if as_json:
        return emit_json(result.to_dict())
    from branchml.render import merge_text

    merge_text(result)


@app.command("split")
def split_cmd(
    seed: Annotated[int | None, typer.Option(help="Hash seed (default: the config's, 0).")]
    = None,
    ratios: Annotated[str | None, typer.Option(
        help="train,val[,test] fractions adding up to 1 (default 0.8,0.1,0.1).")] = None,
    key: Annotated[str | None, typer.Option(
        help="Column (CSV) or field (JSONL) whose value is an item; default: each file.")]
    = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Assign every new item on the split branch to train/val/test, stably."""
    report = api.split(".", seed, ratios, key, dry_run)
    if as_json:
        return emit_json(report.to_dict())
    if not report.added:
        return out(f"Nothing to split: all {report.total} item(s) are assigned already.")
    counts = ", ".join(f"{n} to {k}" for k, n in sorted(report.added.items()))
    verb = "Would assign" if dry_run else "Assigned"
    out(f"{verb} {sum(report.added.values())} new item(s) on {report.branch}: {counts} "
        f"(seed {report.seed}, ratios {','.join(map(str, report.ratios))}).")


ClientOpt = Annotated[str, typer.Option("--client", help="Client id: lowercase letters, "
                                       "digits, _ and -.")]


@app.command()
def promote(
    src: Annotated[str, typer.Argument(help="Code branch to promote (dev/NAME).")],
    dst: Annotated[str, typer.Argument(help="Stable branch to promote into (stable/NAME).")],
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
    for p in r.changed:
        out(f"  ~ {p}")
    if r.gates and not dry_run:
        out("Gates passed: " + "; ".join(r.gates))


@app.command("tag")
def tag_cmd(
    client: ClientOpt,
    rev: Annotated[str | None, typer.Option(
        help="Stable commit or branch to release (default: the stable branch).")] = None,
    message: Annotated[str, typer.Option("-m", "--message", help="Release notes.")] = "",
    push: Annotated[bool, typer.Option(
        "--push", help="Push the tag to origin atomically; fail cleanly if the name is taken.")]
    = False,
    allow_same: Annotated[bool, typer.Option(
        "--allow-same", help="Tag even when the last release has the same content.")] = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Release: an annotated tag CLIENT-vN with the model-data-code manifest."""
    from branchml.render import tag_out

    tag_out(api.tag(client, rev, ".", message, push, allow_same, dry_run), push, as_json,
            dry_run)


@app.command()
def releases(
    client: Annotated[str | None, typer.Option(help="Only this client's releases.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every release with its date, model and key metrics (from tags alone)."""
    from branchml.render import releases_out

    releases_out(api.releases(".", client), as_json)


@app.command()
def show(
    tag: Annotated[str, typer.Argument(help="Release tag, e.g. acme-v3.")],
    as_json: JsonOpt = False,
) -> None:
    """The manifest of a release: code, data, models, params, metrics, lineage."""
    from branchml.render import show_out

    show_out(api.show(tag, "."), as_json)


@app.command()
def verify(tag: Annotated[str, typer.Argument(help="Release tag to check.")]) -> None:
    """Recompute a release's manifest from its commit and the LFS store; exit 1 on a mismatch."""
    bad = api.verify(tag, ".")
    if bad:
        out(f"{tag} does not verify: {', '.join(bad)} differ from its manifest.")
        raise typer.Exit(1)
    out(f"{tag} verifies: its commit and LFS objects match its manifest.")


@app.command()
def lineage(
    file: Annotated[str, typer.Argument(help="Model file, e.g. models/model.pkl.")],
    rev: Annotated[str | None, typer.Option(help="Release tag or commit (default HEAD).")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """What data and code produced a model, and which releases contain it."""
    r = api.lineage(file, rev, ".")
    if as_json:
        return emit_json(r)
    ident = r["model"].get("lfs_oid") or r["model"].get("blob")
    out(f"{file} {ident[:12]} ({r['model']['size']} bytes) at {r['commit'][:10]}")
    promo = r.get("promotion")
    out(f"  code: {r['code']['files']} files" + (f", promoted from {promo['branch']} "
                                                 f"{promo['commit'][:10]}" if promo else ""))
    for p, d in r["data"].items():
        src = d.get("from")
        out(f"  data {p}/: {d['files']} files, {d['bytes']} bytes, tree {d['tree'][:10]}"
            + (f", from {src['branch']} {src['commit'][:10]}" if src else ""))
    out("  releases: " + (", ".join(r["releases"]) or "none"))


@app.command()
def diff(
    tag_a: Annotated[str, typer.Argument(help="Older release tag.")],
    tag_b: Annotated[str, typer.Argument(help="Newer release tag.")],
    as_json: JsonOpt = False,
) -> None:
    """What changed between two releases: code, data, model, params and metrics."""
    d = api.diff(tag_a, tag_b, ".")
    if as_json:
        return emit_json(d)
    out(f"{tag_a} -> {tag_b}")
    out(f"  code files changed: {len(d['code_changed'])}")
    for p, x in d["data"].items():
        out(f"  data {p}/: {x['files_added']:+} files, {x['bytes_added']:+} bytes")
    out("  models changed: " + (", ".join(d["models_changed"]) or "none"))
    for kind in ("params", "metrics"):
        for k, v in d[kind].items():
            extra = f" ({v['delta']:+g})" if "delta" in v else ""
            out(f"  {kind[:-1]} {k}: {v['from']} -> {v['to']}{extra}")


@app.command("deploy")
def deploy_cmd(
    tag: Annotated[str, typer.Argument(help="Release to run as primary.")],
    client: ClientOpt,
    canary: Annotated[str | None, typer.Option(help="Candidate release for a share of traffic.")]
    = None,
    fraction: Annotated[float | None, typer.Option(help="Candidate's share, 0 < F < 1.")] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Record that CLIENT runs TAG (refs/deploy/CLIENT, with history); refuses unverified tags."""
    r = api.deploy(client, tag, ".", canary, fraction, dry_run)
    if as_json:
        return emit_json(r)
    verb = "would run" if dry_run else "now runs"
    out(f"{client} {verb} {tag}" + (f", candidate {canary} at {fraction:g}" if canary else "")
        + f" (refs/deploy/{client} {r['commit'][:10]}).")


@app.command()
def rollback(
    client: ClientOpt,
    to: Annotated[str | None, typer.Option(help="Release to go back to (default: previous).")]
    = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Move CLIENT back to the previous (or named) release."""
    r = api.rollback(client, to, ".", dry_run)
    if as_json:
        return emit_json(r)
    verb = "would roll" if dry_run else "rolled"
    out(f"{client} {verb} back to {r['primary']} (refs/deploy/{client} {r['commit'][:10]}).")


@app.command()
def deployed(
    client: ClientOpt,
    at: Annotated[str | None, typer.Option(help="When, e.g. 2026-11-01T12:00 (default: now).")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """Which release CLIENT ran (now, or at a given time)."""
    from branchml.render import deployed_out

    deployed_out(api.deployed(client, at, "."), as_json)


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
    found = [r for r in rows if r.get("tag") == key or r["commit"].startswith(key)]
    if len(found) != 1:
        raise UsageError(f"{key!r} names {'no' if not found else 'more than one'} run in "
                         "main's run log; give a tag or a longer commit prefix.")
    return found[0]


@runs_app.callback()
def runs_list(
    ctx: typer.Context,
    sort: Annotated[str | None, typer.Option(help="Sort by this metric, best (highest) "
                                                  "first.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every tracked run, newest first (or by a metric)."""
    if ctx.invoked_subcommand is not None:
        return
    rows = api.runs(".")
    if sort:
        rows.sort(key=lambda r: -float(r["metrics"].get(sort, float("-inf"))))
    if as_json:
        return emit_json(rows)
    if not rows:
        return out("No runs on main yet: `branchml track stable/NAME` adds one.")
    from branchml.render import runs_table

    runs_table(rows)


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
    from branchml.ops import monitor
    from branchml.render import drift_html, drift_markdown

    r = monitor.check(Path("."), tag, since)
    if report is not None:
        report.write_text(drift_html(r) if report.suffix == ".html" else drift_markdown(r))
    if as_json:
        emit_json(r)
    else:
        out(drift_markdown(r).rstrip())
    if r["alerts"]:
        raise typer.Exit(1)


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


@app.command("merge-driver", hidden=True)
def merge_driver(
    strategy: Annotated[str, typer.Argument(help="append or overwrite.")],
    base: Annotated[str, typer.Argument(help="%O: the ancestor's version.")],
    ours: Annotated[str, typer.Argument(help="%A: ours; the result is written here.")],
    theirs: Annotated[str, typer.Argument(help="%B: theirs.")],
    path: Annotated[str, typer.Argument(help="%P: the path in the repository.")],
) -> None:
    """Run by git for paths with merge=branchml-* in .gitattributes."""
    from branchml.drivers import run as run_driver

    raise typer.Exit(run_driver(strategy, base, ours, theirs, path))


@branch_app.command("create")
def branch_create(
    name: Annotated[str, typer.Argument(help="New branch name, e.g. dev/new-approach.")],
    from_ref: Annotated[str | None, typer.Option(
        "--from", help="Start from this commit of the parent branch (default: its head).")]
    = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create NAME from the parent its branch type names (dev/* from main, ...)."""
    report = api.create_branch(name, ".", from_ref, dry_run)
    if as_json:
        return emit_json(report.to_dict())
    verb = "Would create" if dry_run else "Created"
    out(f"{verb} {report.name} from {report.parent} at {report.sha[:10]}.")


@config_app.command("validate")
def config_validate(
    file: Annotated[Path, typer.Argument(help="The config file to check.")] = Path(
        "branchml.yaml"),
) -> None:
    """Check a branchml.yaml against the schema; exit 2 with the reason if it is invalid."""
    api.config_validate(file)
    out(f"{file}: valid.")


@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """Print the effective config (main's branchml.yaml with defaults filled in)."""
    cfg = api.config_show(".")
    if as_json:
        return emit_json(cfg)
    import yaml

    out(yaml.safe_dump(cfg, sort_keys=False).rstrip())


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of branchml.yaml."""
    emit_json(api.config_schema())


@app.command("hook", hidden=True)
def hook(
    name: Annotated[str, typer.Argument(help="Hook name (git passes it).")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments git passes.")] = None,
) -> None:
    """Run by the installed git hooks."""
    from branchml.ops.hook import run_hook

    raise typer.Exit(run_hook(name, args or [], sys.stdin))


def run(args: list[str]) -> int:
    try:
        app(args=args, prog_name="branchml", standalone_mode=True)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    return 0
