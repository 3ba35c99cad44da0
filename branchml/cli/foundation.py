"""Commands: init, install, status, check, branch create, config, hook."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from branchml import api
from branchml.cli import complete
from branchml.cli.app import (
    DryRunOpt,
    JsonOpt,
    app,
    branch_app,
    config_app,
    emit_json,
    out,
)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Folder of the repository (created if missing).")]
    = Path("."),
    model: Annotated[str | None, typer.Option(
        metavar="NAME", help="Model name: creates dev/NAME and stable/NAME (default: the "
        "models an earlier init recorded, else model).")] = None,
    main: Annotated[str | None, typer.Option(
        "--main", metavar="BRANCH", help="Make this existing branch (e.g. master) the main "
        "branch instead of creating main beside it.")] = None,
    no_hooks: Annotated[bool, typer.Option("--no-hooks", help="Do not install git hooks.")]
    = False,
    no_lfs: Annotated[bool, typer.Option(
        "--no-lfs", help="Keep data and models as plain git blobs (no git-lfs).")] = False,
    ci: Annotated[str | None, typer.Option(
        "--ci", metavar="HOST", help="Add the CI file of HOST (github or gitlab) to the init "
        "commit on main: the policy gate where the host runs no server hooks.")] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a repository laid out for the workflow, or adopt an existing one."""
    report = api.init(path, model, not no_hooks, not no_lfs, dry_run, ci, main)
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
def upgrade(dry_run: DryRunOpt = False, as_json: JsonOpt = False) -> None:
    """Bring a repository set up by an older branchml up to date: config version, hooks and
    merge drivers, template changes merged with your edits (never overwriting them)."""
    report = api.upgrade(".", dry_run)
    if as_json:
        return emit_json(report.to_dict())
    if report.nothing_to_do:
        out(f"Nothing to do: {report.path} is up to date (config version "
            f"{report.version_to}).")
    else:
        out(("Would do" if dry_run else "Done") + f" in {report.path}:")
    for step in report.steps:
        out(f"  - {step}")
    if report.version_from != report.version_to:
        out(f"Config version {report.version_from} -> {report.version_to}.")
    for label, paths in (("Updated from the new templates", report.updated),
                         ("Merged the template changes with your edits", report.merged),
                         ("Added new template files", report.added)):
        if paths:
            out(f"{label}: {', '.join(paths)}")
    if report.conflicts:
        out("Left as they are (the template change conflicts with your edits; merge it by "
            f"hand): {', '.join(report.conflicts)}")


@app.command()
def install(
    uninstall: Annotated[bool, typer.Option(
        "--uninstall", help="Remove branchml's hooks and put back the ones they replaced.")]
    = False,
    no_lfs: Annotated[bool, typer.Option("--no-lfs", help="Skip git-lfs filters and hooks.")]
    = False,
    lfs_storage: Annotated[str | None, typer.Option(
        "--lfs-storage", metavar="PATH",
        help="In a bare repository: the folder holding its git-lfs objects/ (written as "
             "lfs.storage), so the server's checks read them there.")] = None,
    ci: Annotated[str | None, typer.Option(
        "--ci", metavar="HOST", help="Also write the CI file of HOST (github or gitlab) into "
        "the working tree, to commit on main; an existing different file is refused.")]
    = None,
    main: Annotated[str | None, typer.Option(
        "--main", metavar="BRANCH", help="The main branch when it is not main (e.g. master): "
        "written as git config branchml.trustedRef, which a server's checks then trust.")]
    = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Set up hooks and git-lfs in a fresh clone (they do not travel with a clone)."""
    report = api.install(".", uninstall, dry_run, no_lfs, lfs_storage, ci, main)
    if as_json:
        return emit_json(report.to_dict())
    if report.nothing_to_do:
        out("Nothing to do: hooks and filters are already as branchml wants them.")
    else:
        out(("Would do" if dry_run else "Done") + f" (hooks in {report.hooks_dir}):")
        for step in report.steps:
            out(f"  - {step}")
    if report.trusted_ref:  # said every time, so the user sees which policy judges
        out(f"Main branch: {report.trusted_ref} (git config branchml.trustedRef); its "
            "branchml.yaml is the policy every command trusts.")


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Each branch with its type, head, and what may change on it."""
    report = api.status(".")
    if as_json:
        return emit_json(report.to_dict())
    from branchml.cli.render import status_table

    status_table(report)


@app.command()
def check(
    staged: Annotated[bool, typer.Option(
        "--staged", help="Judge the staged changes (what the pre-commit hook runs).")] = False,
    range_: Annotated[str | None, typer.Option(
        "--range", metavar="A..B", help="Judge the commits of A..B (pre-push, server, CI).")]
    = None,
    branch: Annotated[str | None, typer.Option(
        help="Branch whose rules apply to --range (default: the current branch).",
        autocompletion=complete.branches)] = None,
    ref: Annotated[str | None, typer.Option(
        metavar="REF", help="With --range OLD..NEW: judge the push that moved this full ref "
        "name (CI on a tag push: refs/tags/NAME) as the server would.")] = None,
    gates: Annotated[bool, typer.Option(
        "--gates", help="Run main's promote.require gates on HEAD's code (CI, stable "
        "branches); this runs the repository's code.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Judge changes against the policy on main. Exit 1 on a violation."""
    if gates:
        return _gates(staged or range_ is not None, as_json)
    result = api.check(".", staged, range_, branch, ref)
    if as_json:
        emit_json(result.to_dict())
    else:
        from branchml.cli.render import check_text

        check_text(result)
    if not result.ok:
        raise typer.Exit(1)


def _gates(other: bool, as_json: bool) -> None:
    if other:
        from branchml.errors import UsageError

        raise UsageError("give exactly one of --staged, --range A..B or --gates.")
    report = api.check_gates(".")
    if as_json:
        return emit_json(report.to_dict())
    if not report.gates:
        return out(f"ok: no gates to run: promote.require is empty ({report.policy}).")
    out(f"ok: {len(report.gates)} gate(s) passed on {report.commit[:10]} ({report.policy}): "
        + ", ".join(f"`{g}`" for g in report.gates))


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
    as_json: JsonOpt = False,
) -> None:
    """Check a branchml.yaml against the schema; exit 2 with the reason if it is invalid."""
    api.config_validate(file)
    if as_json:  # an invalid file is an error: JSON on stderr, exit 2 (README: JSON errors)
        return emit_json({"file": str(file), "valid": True})
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


