"""The library surface: what the CLI calls and what Python users import. Never prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from branchml.ops.branch import BranchReport
from branchml.ops.check import CheckResult
from branchml.ops.init import InitReport
from branchml.ops.install import InstallReport
from branchml.ops.merge import MergeResult
from branchml.ops.split import SplitReport
from branchml.ops.status import StatusReport

__all__ = [
    "check", "config_schema", "config_show", "config_validate", "create_branch", "init",
    "install", "merge", "pull", "split", "status",
]


def init(path: str | Path = ".", model: str = "model", hooks: bool = True, lfs: bool = True,
         dry_run: bool = False) -> InitReport:
    """Create (or adopt) a repository laid out for the branchml workflow."""
    from branchml.ops import init as op

    return op.init(Path(path), model, hooks, lfs, dry_run)


def install(path: str | Path = ".", uninstall: bool = False, dry_run: bool = False,
            no_lfs: bool = False) -> InstallReport:
    """Install (or remove) branchml's hooks and git-lfs's filters in a clone."""
    from branchml.ops import install as op

    return op.install(Path(path), uninstall, dry_run, no_lfs)


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
          branch: str | None = None) -> CheckResult:
    """Judge staged changes (`staged`) or the commits of `range_` ("A..B") on `branch`."""
    from branchml.errors import UsageError
    from branchml.gitcli import Git
    from branchml.ops import check as op

    if staged == (range_ is not None):
        raise UsageError("give exactly one of --staged or --range A..B.")
    g = Git(Path(path))
    try:
        return op.check_staged(g) if staged else op.check_range(g, range_ or "", branch)
    finally:
        g.close()


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
        from branchml.validation import Validation

        factory = Validation.factory(Path(path))
    return op.merge(Path(path), src, dst, pull=True, dry_run=dry_run, validator_factory=factory)


def split(path: str | Path = ".", seed: int | None = None, ratios: str | None = None,
          key: str | None = None, dry_run: bool = False) -> SplitReport:
    """Assign new items on the split branch to train/val/test by a seeded hash of their key."""
    from branchml.ops import split as op

    return op.split(Path(path), seed, ratios, key, dry_run)


def config_validate(file: str | Path) -> dict[str, Any]:
    """The effective config of `file`; raises ConfigError with one sentence if invalid."""
    from branchml import config

    return config.load_file(Path(file))


def config_show(path: str | Path = ".") -> dict[str, Any]:
    """The effective config that judges this repository (main's, with defaults filled in)."""
    from branchml import config
    from branchml.gitcli import Git
    from branchml.ops.trusted import trusted_ref

    g = Git(Path(path))
    try:
        for rev in (trusted_ref(g), "HEAD"):
            found = g.show_file(rev, config.CONFIG_FILE) if g.resolve(rev) else None
            if found:
                return config.load_bytes(found[1], f"{rev}:{config.CONFIG_FILE}")
        return config.load_bytes(None, "")
    finally:
        g.close()


def config_schema() -> dict[str, Any]:
    from branchml.resources import schema

    copied: dict[str, Any] = json.loads(json.dumps(schema("config")))
    return copied
