"""The library surface: what the CLI calls and what Python users import. Never prints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

# the plain-data result types (TypedDicts: nothing to import at run time but typing)
from branchml.results import (
    AnalysisStart,
    DeployedRecord,
    Deployment,
    DriftReport,
    JsonValue,
    Lineage,
    Manifest,
    ReleaseDiff,
    ReleaseRow,
    RunRecord,
)

if TYPE_CHECKING:  # imported when first named (see __getattr__): `--version`-light imports
    from branchml.ops.branch import BranchReport
    from branchml.ops.check import CheckResult
    from branchml.ops.ci import GatesReport
    from branchml.ops.clone import CloneReport
    from branchml.ops.init import InitReport
    from branchml.ops.install import InstallReport
    from branchml.ops.merge import MergeResult
    from branchml.ops.monitorlog import LogReport
    from branchml.ops.promote import PromoteReport
    from branchml.ops.push import PushReport
    from branchml.ops.release import Verification
    from branchml.ops.runs import RunComparison, RunPlot
    from branchml.ops.split import SplitReport
    from branchml.ops.status import StatusReport
    from branchml.ops.sync import SyncReport
    from branchml.ops.track import TrackReport

# the result classes, by the module that defines them: `branchml.api.PromoteReport` works
# at run time too (imported on first use, so `import branchml.api` stays light)
_RESULT_CLASSES = {
    "BranchReport": "branch", "CheckResult": "check", "GatesReport": "ci",
    "CloneReport": "clone", "InitReport": "init", "InstallReport": "install",
    "MergeResult": "merge", "LogReport": "monitor", "PromoteReport": "promote",
    "PushReport": "push", "Verification": "release", "RunComparison": "runs",
    "RunPlot": "runs", "SplitReport": "split", "StatusReport": "status",
    "SyncReport": "sync", "TrackReport": "track",
}

__all__ = [
    "check",
    "clone",
    "config_schema",
    "config_show",
    "config_validate",
    "create_branch",
    "deploy",
    "deployed",
    "diff",
    "init",
    "install",
    "lineage",
    "merge",
    "promote",
    "pull",
    "push",
    "releases",
    "rollback",
    "runs",
    "show",
    "split",
    "status",
    "sync",
    "tag",
    "track",
    "verify",
]
__all__ += [  # noqa: RUF022 (issue 18: the commands that had no function; the result types)
    "analysis_start", "check_gates", "monitor_check", "monitor_log", "monitor_report",
    "runs_compare", "runs_plot",
    "AnalysisStart", "BranchReport", "CheckResult", "CloneReport", "DeployedRecord",
    "Deployment", "DriftReport", "GatesReport", "InitReport", "InstallReport", "JsonValue",
    "Lineage", "LogReport", "Manifest", "MergeResult", "PromoteReport", "PushReport",
    "ReleaseDiff", "ReleaseRow", "RunComparison", "RunPlot", "RunRecord", "SplitReport",
    "StatusReport", "SyncReport", "TrackReport", "Verification",
]


from branchml.api._releases import (  # noqa: E402 (the release and deployment functions)
    deploy,
    deployed,
    diff,
    lineage,
    next_release,
    releases,
    rollback,
    show,
    split_rows,
    tag,
    verify,
)
from branchml.api._tracking import (  # noqa: E402 (the tracking and monitoring functions)
    analysis_start,
    drift_report,
    monitor_check,
    monitor_compare,
    monitor_log,
    monitor_notify,
    monitor_report,
    release_metrics,
    route,
    runs,
    runs_compare,
    runs_plot,
    runs_sorted,
    track,
)


def __getattr__(name: str) -> type:
    module = _RESULT_CLASSES.get(name)
    if module is None:
        raise AttributeError(f"module 'branchml.api' has no attribute {name!r}")
    from importlib import import_module

    found: type = getattr(import_module(f"branchml.ops.{module}"), name)
    return found


def init(path: str | Path = ".", model: str | None = None, hooks: bool = True,
         lfs: bool = True, dry_run: bool = False, ci: str | None = None,
         main: str | None = None) -> InitReport:
    """Create (or adopt) a repository laid out for the branchml workflow; `ci` ("github",
    "gitlab") adds that host's CI file to the init commit on main. `model` None: the models
    an earlier init recorded (else "model"); `main`: an existing branch (master) becomes the
    main branch, named in the local git config `branchml.trustedRef`."""
    from branchml.ops import init as op

    return op.init(Path(path), model, hooks, lfs, dry_run, ci, main)


def install(path: str | Path = ".", uninstall: bool = False, dry_run: bool = False,
            no_lfs: bool = False, lfs_storage: str | None = None,
            ci: str | None = None, main: str | None = None) -> InstallReport:
    """Install (or remove) branchml's hooks and git-lfs's filters in a clone; in a bare
    repository, `lfs_storage` sets where its LFS objects live (git config lfs.storage);
    `ci` ("github", "gitlab") writes that host's CI file into the working tree; `main` names
    the main branch when it is not main (git config branchml.trustedRef)."""
    from branchml.ops import install as op

    return op.install(Path(path), uninstall, dry_run, no_lfs, lfs_storage, ci, main)


def create_branch(name: str, path: str | Path = ".", from_ref: str | None = None,
                  dry_run: bool = False) -> BranchReport:
    """Create branch `name` from the parent its branch type names."""
    from branchml.ops import branch as op

    return op.create(Path(path), name, from_ref, dry_run)


def status(path: str | Path = ".") -> StatusReport:
    """Each branch with its type, head and what may change on it."""
    from branchml.ops import status as op

    return op.status(Path(path))


def check(path: str | Path = ".", staged: bool = False, range_: str | None = None,
          branch: str | None = None, ref: str | None = None) -> CheckResult:
    """Judge staged changes (`staged`) or the commits of `range_` ("A..B") on `branch`; with
    `ref` (a full ref name, e.g. a pushed tag), the push of `ref` from A to B."""
    from branchml.errors import UsageError
    from branchml.ops import check as op
    from branchml.ops.trusted import judging
    from branchml.repo.reader import Git

    if staged == (range_ is not None):
        raise UsageError("give exactly one of --staged, --range A..B or --gates.")
    start, sep, end = (range_ or "").partition("..")
    g = Git(Path(path))
    try:
        with judging():  # an invalid trusted config: the repair policy, not an error
            if staged:
                return op.check_staged(g)
            if ref is not None:
                from branchml.ops.ci import check_ref

                if not (start and end) or branch is not None:
                    raise UsageError("--ref goes with --range OLD..NEW and without --branch.")
                return check_ref(g, ref, start, end)
            if sep and start and set(start) == {"0"}:  # CI's "before" of a new branch
                from branchml.ops.ci import check_new_branch

                return check_new_branch(g, end, branch)
            return op.check_range(g, range_ or "", branch)
    finally:
        g.close()


def check_gates(path: str | Path = ".", rev: str = "HEAD") -> GatesReport:
    """Run the trusted main's `promote.require` gates on `rev`'s code (what CI runs on a
    stable branch); a failing gate raises VerdictError."""
    from branchml.ops import ci as op

    return op.run_gates(Path(path), rev)


def merge(src: str, into: str | None = None, path: str | Path = ".",
          dry_run: bool = False) -> MergeResult:
    """Merge branch `src` into `into` (default: the current branch) by path class."""
    from branchml.ops import merge as op

    return op.merge(Path(path), src, into, pull=False, dry_run=dry_run)


def pull(src: str, dst: str, path: str | Path = ".", validate: bool = False,
         dry_run: bool = False) -> MergeResult:
    """Bring `src`'s new data into `dst` (append); with `validate`, drop bad new items."""
    from branchml.ops import merge as op

    factory = None
    if validate:
        from branchml.content.validation import Validation
        from branchml.ops.trusted import trusted_ref
        from branchml.repo.reader import Git

        git = Git(path)
        trusted = git.resolve(trusted_ref(git))  # validators run among main's files only
        git.close()

        def factory(repo: Any, store: Any, cfg: dict[str, Any]) -> Validation:
            return Validation(repo, store, cfg, trusted)  # with the merge's trusted config
    return op.merge(Path(path), src, dst, pull=True, dry_run=dry_run, validator_factory=factory)


def split(path: str | Path = ".", seed: int | None = None, ratios: str | None = None,
          key: str | None = None, dry_run: bool = False, *,
          skip_empty_keys: bool = False) -> SplitReport:
    """Assign new items on the split branch to train/val/test by a seeded hash of their key."""
    from branchml.ops import split as op

    return op.split(Path(path), seed, ratios, key, dry_run, skip_empty_keys)


def promote(src: str, dst: str, path: str | Path = ".", dry_run: bool = False
            ) -> PromoteReport:
    """One commit on `dst` whose code is exactly `src`'s; gates run on the result first."""
    from branchml.ops import promote as op

    return op.promote(Path(path), src, dst, dry_run)


def config_validate(file: str | Path) -> dict[str, JsonValue]:
    """The effective config of `file`; raises ConfigError with one sentence if invalid."""
    from branchml import config
    from branchml.core.alertsettings import alerts_problem
    from branchml.errors import ConfigError

    cfg = config.load_file(Path(file))
    # monitor.alerts the schema passes but no delivery can use (atk19-06): refused here,
    # where it is cheap; `monitor check` with such a config warns and keeps its exit code
    why = alerts_problem((cfg.get("monitor") or {}).get("alerts") or {})
    if why:
        raise ConfigError(f"{Path(file).name}: {why}.")
    return cast("dict[str, JsonValue]", cfg)


def config_show(path: str | Path = ".") -> dict[str, JsonValue]:
    """The effective config that judges this repository (main's, with defaults filled in)."""
    from branchml import config
    from branchml.ops.trusted import head_untrusted, load_trusted, trusted_ref
    from branchml.repo.reader import Git

    g = Git(Path(path))
    try:  # HEAD stands in for main only without a remote (a clone's dev branch is anyone's)
        for rev in (trusted_ref(g), *(() if head_untrusted(g) else ("HEAD",))):
            found = g.show_file(rev, config.CONFIG_FILE) if g.resolve(rev) else None
            if found:
                return cast("dict[str, JsonValue]",
                            config.load_bytes(found[1], f"{rev}:{config.CONFIG_FILE}"))
        # nothing found: the defaults where no config exists, else the refusal saying why
        return cast("dict[str, JsonValue]", load_trusted(g, [trusted_ref(g), "HEAD"]).config)
    finally:
        g.close()


def config_schema() -> dict[str, JsonValue]:
    """The JSON Schema of branchml.yaml (a copy: changing it changes nothing)."""
    from branchml.resources import schema

    copied: dict[str, JsonValue] = json.loads(json.dumps(schema("config")))
    return copied


def clone(url: str, directory: str | Path | None = None, branch: str = "main",
          main: str | None = None) -> CloneReport:
    """Clone a branchml repository ready to work: a local tracking branch per typed branch,
    release tags, deploy refs, hooks, merge drivers and LFS filters; only `branch`'s LFS
    objects. `main`: the main branch (default: the one the remote's HEAD names, else main).
    Any failure leaves nothing behind."""
    from branchml.ops import clone as op

    return op.clone(url, directory, branch, main)


def sync(path: str | Path = ".", remote: str = "origin", dry_run: bool = False) -> SyncReport:
    """Bring the remote's typed branches, release tags and deploy refs here (fast-forwards
    only), prune branches it deleted that hold nothing unpushed, and report what changed."""
    from branchml.ops import sync as op

    return op.sync(Path(path), remote, dry_run)


def push(path: str | Path = ".", remote: str = "origin", dry_run: bool = False,
         progress: Callable[[int, int, str], None] | None = None) -> PushReport:
    """Judge, then push every typed branch, release tag and deploy ref that changed to
    `remote` in one atomic push, LFS objects first. A verdict that refuses it comes back as
    a report with `ok` False (nothing pushed); a rejected push raises. `progress` is told
    (objects done, objects in all, bytes) while LFS objects upload."""
    from branchml.ops import push as op

    return op.push(Path(path), remote, dry_run, progress)


# --- issue 18: h4 runs ---
__all__ += ["release_metrics", "runs_sorted"]


# --- issue 18: adopt ---
if TYPE_CHECKING:
    from branchml.ops.upgrade import UpgradeReport

__all__ += ["upgrade"]


def upgrade(path: str | Path = ".", dry_run: bool = False) -> UpgradeReport:
    """Bring a repository scaffolded by an older branchml up to date in one commit on main:
    the config format migrated, hooks and merge drivers reinstalled, template changes merged
    three-way with the user's edits (a conflict leaves the user's file as it is, reported in
    `conflicts`)."""
    from branchml.ops import upgrade as op

    return op.upgrade(Path(path), dry_run)


# --- issue 18: leakage guard and lineage to raw (h3) ---
__all__ += ["next_release", "split_rows"]


# --- issue 19: online experiments (s5) ---
from branchml.results import MonitorComparison  # noqa: E402 (plain data, imported where used)

if TYPE_CHECKING:
    from branchml.ops.route import Router, Routing

# serving code builds one Router and routes many keys with it (imported on first use)
_RESULT_CLASSES.update({"Router": "route", "Routing": "route"})
__all__ += ["MonitorComparison", "Router", "Routing", "monitor_compare", "route"]


# --- issue 19: windows and alerts (s4) ---
if TYPE_CHECKING:
    from branchml.ops.alerts import AlertDelivery

_RESULT_CLASSES["AlertDelivery"] = "alerts"
__all__ += ["AlertDelivery", "monitor_notify"]


# --- issue 19: report (s3) ---
__all__ += ["drift_report"]


# --- issues 20 and 21: graph, undo, reproduce, row lineage (each in its own api module) ---
from branchml.api._graph import GraphResult, graph  # noqa: E402
from branchml.api._lineage import (  # noqa: E402
    ImpactReport,
    LineageRows,
    RowLineage,
    UploadRows,
    impact,
    row_lineage,
)
from branchml.api._reproduce import Environment, environment, reproduce, train  # noqa: E402
from branchml.api._undo import UndoEntry, UndoResult, undo, undo_list  # noqa: E402

if TYPE_CHECKING:
    from branchml.ops.reproduce import Reproduction
    from branchml.ops.train import TrainReport

_RESULT_CLASSES.update({"Reproduction": "reproduce", "TrainReport": "train"})
__all__ += ["Environment", "GraphResult", "ImpactReport", "LineageRows", "Reproduction",
            "RowLineage", "TrainReport", "UndoEntry", "UndoResult", "UploadRows", "environment",
            "graph", "impact", "reproduce", "row_lineage", "train", "undo", "undo_list"]
