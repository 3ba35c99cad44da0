"""`branchml install`: hooks and git-lfs filters in a fresh clone (they do not travel)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.core.plan import ConfigSet, LfsInstall, Plan, Step
from branchml.errors import StateError, UsageError
from branchml.ops import mainname, merge_driver
from branchml.ops.trusted import assume, load_trusted, trusted_ref
from branchml.repo import apply, hooks, lfs, objectstore
from branchml.repo.reader import Git
from branchml.resources import templates_dir

# --ci HOST -> (template under templates/ci/, where the host reads it in the repository)
CI_FILES = {"github": ("github/branchml.yml", ".github/workflows/branchml.yml"),
            "gitlab": ("gitlab/gitlab-ci.yml", ".gitlab-ci.yml")}


@dataclass
class InstallReport:
    steps: list[str] = field(default_factory=list)
    dry_run: bool = False
    hooks_dir: str = ""
    ci_file: str = ""
    trusted_ref: str = ""  # the main branch's ref, written as git config branchml.trustedRef

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps

    def to_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "dry_run": self.dry_run, "hooks_dir": self.hooks_dir,
                "ci_file": self.ci_file, "trusted_ref": self.trusted_ref,
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


def ci_template(host: str) -> tuple[str, bytes]:
    """(path in the repository, content) of the CI file for `host` (github, gitlab)."""
    if host not in CI_FILES:
        raise UsageError(f"--ci {host!r} is not a host branchml has a CI file for; give "
                         f"{' or '.join(CI_FILES)}.")
    source, target = CI_FILES[host]
    return target, (templates_dir() / "ci" / source).read_bytes()


def install(path: Path, uninstall: bool = False, dry_run: bool = False,
            no_lfs: bool = False, lfs_storage: str | None = None,
            ci: str | None = None, main: str | None = None) -> InstallReport:
    ci_file = ci_template(ci) if ci is not None else None  # a bad value before anything
    if ci_file and uninstall:
        raise UsageError("--ci goes with an install, not with --uninstall.")
    if main is not None:
        if uninstall:
            raise UsageError("--main goes with an install, not with --uninstall.")
        mainname.check(main)
    if not dry_run:
        apply.prepare(objectstore.Repo(path))
    g = Git(path)
    layout = g.layout
    root = layout.toplevel or layout.common_dir
    main_ref = ""
    if uninstall:
        if lfs_storage is not None:
            raise UsageError("--lfs-storage goes with an install, not with --uninstall.")
        hdir = hooks.hooks_dir(path, root)
        steps: list[Step] = list(hooks.plan_uninstall(hdir))
    else:
        main_ref = f"refs/heads/{main}" if main else trusted_ref(g)
        steps, hdir = _install_steps(g, path, root, main_ref, no_lfs)
        if lfs_storage is not None:
            steps[:0] = _storage_step(g, layout.bare, lfs_storage)
    g.close()
    plan = Plan("install --uninstall" if uninstall else "install", steps)
    report = InstallReport(plan.describe(), dry_run, str(hdir), trusted_ref=main_ref)
    write = _ci_step(layout.toplevel, ci_file, report)  # refused before anything moves
    if not dry_run and not plan.empty:
        apply.apply(objectstore.Repo(path), plan)
    if write is not None and not dry_run:
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_bytes(ci_file[1] if ci_file else b"")
    return report


def _install_steps(g: Git, path: Path, root: Path, ref: str, no_lfs: bool
                   ) -> tuple[list[Step], Path]:
    """Hooks, filters and drivers as the policy at `ref` wants them, after the step that
    writes `ref` down as the trusted main."""
    assume(g, ref)  # `--main` decides for this command too, before it is written
    name = ref.removeprefix("refs/heads/")
    policy = load_trusted(g, [ref, f"refs/remotes/origin/{name}", "HEAD"]).policy
    use_lfs = bool(policy.lfs_classes) and not no_lfs
    steps, hdir = installer_steps(path, root, g.layout.toplevel is None, use_lfs)
    return [*_main_step(g, ref), *steps], hdir


def _ci_step(root: Path | None, ci_file: tuple[str, bytes] | None,
             report: InstallReport) -> Path | None:
    """Where the CI file goes in the working tree (None: nothing to write). A file already
    there with other content is someone's CI: refused, never overwritten."""
    if ci_file is None:
        return None
    rel, data = ci_file
    if root is None:
        raise UsageError("--ci writes a file into a working tree; run it in a clone, not in a "
                         "bare repository.")
    target = root / rel
    report.ci_file = rel
    if target.is_file() and target.read_bytes() == data:
        return None
    if target.exists() or target.is_symlink():
        raise StateError(f"{rel} already exists and is not branchml's template: move it away "
                         "(or merge it by hand), then run `branchml install --ci` again.")
    report.steps.append(f"write {rel} (commit it on main, then merge main into every branch: "
                        "the host reads it from the pushed commit)")
    return target


def _main_step(g: Git, ref: str) -> list[Step]:
    """The ref whose branchml.yaml judges (`--main NAME`, else the one `trusted_ref` chose),
    always written as git config branchml.trustedRef (which only the repository's owner
    writes), so no later command guesses; on a server, the one its pre-receive trusts."""
    old = g.config(mainname.TRUSTED_KEY)
    return [] if old == ref else [ConfigSet(mainname.TRUSTED_KEY, ref, old)]


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
