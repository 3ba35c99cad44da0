"""`branchml install`: hooks and git-lfs filters in a fresh clone (they do not travel)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.core.plan import ConfigSet, LfsInstall, Plan, Step
from branchml.errors import UsageError
from branchml.ops import merge_driver
from branchml.ops.trusted import load_trusted, trusted_ref
from branchml.repo import apply, hooks, lfs, objectstore
from branchml.repo.reader import Git


@dataclass
class InstallReport:
    steps: list[str] = field(default_factory=list)
    dry_run: bool = False
    hooks_dir: str = ""

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps

    def to_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "dry_run": self.dry_run, "hooks_dir": self.hooks_dir,
                "changed": bool(self.steps) and not self.dry_run}


def installer_steps(cwd: Path, root: Path, bare: bool, use_lfs: bool,
                    with_hooks: bool = True) -> tuple[list[Step], Path]:
    steps: list[Step] = []
    if use_lfs and not bare:
        lfs.require()
        if not lfs.filters_installed(cwd):
            steps.append(LfsInstall())
    hdir = hooks.hooks_dir(cwd, root)
    if not bare:
        steps.extend(merge_driver.config_steps(Git(cwd)))
    else:
        steps.extend(server_config_steps(Git(cwd)))
    if with_hooks:
        steps.extend(hooks.plan_install(hdir, bare, use_lfs and not bare))
    return steps, hdir


def server_config_steps(git: Git) -> list[Step]:
    """A bare repository checks every object it receives (`git fsck` rules, warnings as
    errors): a tree entry `..` or `.git`, which would break every checkout of the branch it
    lands on, is refused by git itself before any hook runs."""
    now = git.config("receive.fsckObjects")
    return [] if now == "true" else [ConfigSet("receive.fsckObjects", "true", now)]


def install(path: Path, uninstall: bool = False, dry_run: bool = False,
            no_lfs: bool = False, lfs_storage: str | None = None) -> InstallReport:
    if not dry_run:
        apply.prepare(objectstore.Repo(path))
    g = Git(path)
    layout = g.layout
    root = layout.toplevel or layout.common_dir
    if uninstall:
        if lfs_storage is not None:
            raise UsageError("--lfs-storage goes with an install, not with --uninstall.")
        hdir = hooks.hooks_dir(path, root)
        steps: list[Step] = list(hooks.plan_uninstall(hdir))
    else:
        policy = load_trusted(g, [trusted_ref(g), "refs/remotes/origin/main", "HEAD"]).policy
        use_lfs = bool(policy.lfs_classes) and not no_lfs
        steps, hdir = installer_steps(path, root, layout.toplevel is None, use_lfs)
        if lfs_storage is not None:
            steps[:0] = _storage_step(g, layout.bare, lfs_storage)
    g.close()
    plan = Plan("install --uninstall" if uninstall else "install", steps)
    report = InstallReport(plan.describe(), dry_run, str(hdir))
    if not dry_run and not plan.empty:
        apply.apply(objectstore.Repo(path), plan)
    return report


def _storage_step(g: Git, bare: bool, location: str) -> list[Step]:
    """lfs.storage in a server's config, so its checker (and git-lfs) read the LFS objects
    where they live. Written absolute: git-lfs would take a relative value inside the git
    dir, not where the command was typed."""
    if not bare:
        raise UsageError("--lfs-storage is for a bare repository (a server); in a clone, "
                         "git-lfs reads `git config lfs.storage` as it is.")
    where = Path(os.path.abspath(os.path.expanduser(location)))
    if not where.is_dir():
        raise UsageError(f"--lfs-storage {location}: no such folder; give the folder that "
                         "holds (or will hold) git-lfs's objects/ of this repository.")
    old = g.config("lfs.storage")
    return [] if old == str(where) else [ConfigSet("lfs.storage", str(where), old)]
