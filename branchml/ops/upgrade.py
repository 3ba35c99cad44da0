"""`branchml upgrade`: a repository scaffolded by an older branchml brought up to date.

Three things, in one plan: the config format migrated step by step to `CURRENT_VERSION`; the
hooks and merge drivers reinstalled (and `.gitattributes` given lines it lacks); each file
init scaffolded merged three-way with the user's edits (base: the text init wrote, recorded
by blob id under `scaffold:`; theirs: main's file; ours: the new template), by `git
merge-file`. A merge with a conflict is left out and reported: the user's file is never
overwritten. Everything on main is one commit, written before main moves by compare-and-swap
(repo/apply.py), so the op log holds main's before and after.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml import config
from branchml.core.plan import Checkout, Plan, RefUpdate, Step
from branchml.core.policy import policy_from_config
from branchml.errors import ConfigError, StateError
from branchml.ops import init as init_op
from branchml.ops import scaffold, scaffold_record
from branchml.ops.install import installer_steps
from branchml.ops.scaffold_record import ScaffoldRecord, blob_id
from branchml.ops.trusted import main_branch_name
from branchml.repo import apply, objectstore, proc
from branchml.repo.reader import Git

CURRENT_VERSION = 2
F = config.CONFIG_FILE


@dataclass
class UpgradeReport:
    path: str
    main: str
    dry_run: bool = False
    version_from: int = CURRENT_VERSION
    version_to: int = CURRENT_VERSION
    updated: list[str] = field(default_factory=list)  # the user had not edited: new template
    merged: list[str] = field(default_factory=list)  # template changes merged with edits
    added: list[str] = field(default_factory=list)  # template files branchml never made here
    conflicts: list[str] = field(default_factory=list)  # left as they are: merge by hand
    commit: str | None = None
    steps: list[str] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "nothing_to_do": self.nothing_to_do}


def _to_2(text: bytes, git: Git, main_sha: str, templates: list[str]) -> bytes:
    """1 -> 2: the scaffold record, derived from the commit that added branchml.yaml."""
    rec = scaffold_record.derived(git, main_sha, templates)
    return scaffold_record.with_record(text, rec)


# version -> the step from it to the next; a new format adds one entry
MIGRATIONS: dict[int, Callable[[bytes, Git, str, list[str]], bytes]] = {1: _to_2}


def upgrade(path: Path, dry_run: bool = False) -> UpgradeReport:
    repo = objectstore.Repo(path)
    if repo.root is None:
        raise StateError(f"{path} is a bare repository: run `branchml install` there to "
                         "update the server's hook; upgrade runs in a clone.")
    if not dry_run:
        apply.prepare(repo)
    g = Git(repo.root)
    try:
        main = main_branch_name(g)
        report = UpgradeReport(str(repo.root), main, dry_run)
        old = repo.branch_target(main)
        text = repo.read_file(old, F) if old else None
        if old is None or text is None:
            raise StateError(f"{main} has no {F}, so branchml never set up this repository: "
                             "run `branchml init .` instead.")
        apply.not_busy(repo, main)
        files = _main_files(repo, g, old, text, report)
    finally:
        g.close()
    _plan_and_apply(repo, report, old, files)
    return report


def _main_files(repo: objectstore.Repo, g: Git, old: str, text: bytes,
                report: UpgradeReport) -> dict[str, bytes]:
    cfg = config.load_bytes(text, F)
    paths = [p for p in scaffold.scaffold_files("x", "model", True, report.main) if p != F]
    report.version_from = version = int(cfg["version"])
    migrated = text
    while version < CURRENT_VERSION:
        migrated = _set_version(MIGRATIONS[version](migrated, g, old, paths), version + 1)
        version += 1
    report.version_to = version
    cfg = config.load_bytes(migrated, F)  # a migration that breaks the config stops here
    rec = scaffold_record.from_config(cfg) or scaffold_record.derived(g, old, paths)
    template = scaffold.scaffold_files(Path(report.path).name, (rec.models or ("model",))[0],
                                       bool(cfg.get("lfs")), report.main)
    out, new_ids = _templates(repo, g, old, rec, template, report)
    rec = ScaffoldRecord(rec.models, {**rec.files, **new_ids})
    if out or migrated != text or rec != scaffold_record.from_config(cfg):
        out[F] = scaffold_record.with_record(migrated, rec)
    attrs = scaffold.extend_lines(repo.read_file(old, ".gitattributes"),
                                  scaffold.attribute_lines(policy_from_config(cfg),
                                                           cfg.get("merge") or {}),
                                  "added by branchml upgrade")
    ignore = scaffold.extend_lines(repo.read_file(old, ".gitignore"), scaffold.ignore_lines(),
                                   "added by branchml upgrade")
    for name, data in ((".gitattributes", attrs), (".gitignore", ignore)):
        if data is not None:
            out[name] = data
    return out


# the top-level version line: the number, then spaces and a comment if any (the schema
# takes the number unquoted only)
_VERSION_LINE = re.compile(rb"^(version:[ \t]*)\d+(?=[ \t]*(#[^\n]*)?$)", re.M)


def _set_version(text: bytes, version: int) -> bytes:
    """`text` with its version line saying `version` (its comment kept); a line
    this cannot rewrite is refused, never a commit that says it migrated and did not."""
    new = _VERSION_LINE.sub(lambda m: m[1] + b"%d" % version, text, count=1)
    if config.load_bytes(new, F).get("version") != version:
        raise ConfigError(f"upgrade cannot rewrite the version line of main's {F} (write it "
                          f"as `version: {version - 1}` on a line of its own), so nothing was "
                          "changed: fix that line on main, then run upgrade again.")
    return new


def _templates(repo: objectstore.Repo, g: Git, old: str, rec: ScaffoldRecord,
               template: dict[str, bytes], report: UpgradeReport
               ) -> tuple[dict[str, bytes], dict[str, str]]:
    """(files to write, their new record ids) for each scaffolded file."""
    out: dict[str, bytes] = {}
    ids: dict[str, str] = {}
    for path, new in sorted(template.items()):
        if path == F:
            continue
        base_id, theirs = rec.files.get(path), repo.read_file(old, path)
        if base_id is None and theirs is None:  # a template file branchml never made here
            out[path], ids[path] = new, blob_id(new)
            report.added.append(path)
        elif base_id is None or theirs is None or blob_id(new) == base_id:
            continue  # the user's own file, a doc the user deleted, or no template change
        elif theirs == new or blob_id(theirs) == base_id:
            ids[path] = blob_id(new)
            if theirs != new:
                out[path] = new
                report.updated.append(path)
        else:
            merged = _merge(g, base_id, theirs, new)
            if merged is None:
                report.conflicts.append(path)
                continue
            out[path], ids[path] = merged, blob_id(new)
            report.merged.append(path)
    return out, ids


def _merge(g: Git, base_id: str, theirs: bytes, ours: bytes) -> bytes | None:
    """`git merge-file`: the user's file with the template's change since `base_id`; None on
    a conflict (or when the base text is gone)."""
    found = g.cat.read(base_id)
    if found is None:
        return None
    with tempfile.TemporaryDirectory(prefix="branchml-upgrade-") as tmp:
        names = []
        for name, data in (("theirs", theirs), ("base", found[1]), ("ours", ours)):
            (Path(tmp) / name).write_bytes(data)
            names.append(str(Path(tmp) / name))
        done = proc.run(["git", "merge-file", "-p", "--", *names], cwd=tmp, check=False)
    return done.stdout if done.returncode == 0 else None


def _plan_and_apply(repo: objectstore.Repo, report: UpgradeReport, old: str,
                    files: dict[str, bytes]) -> None:
    assert repo.root is not None
    cfg = config.load_bytes(files.get(F) or repo.read_file(old, F), F)
    use_lfs = bool(policy_from_config(cfg).lfs_classes)
    steps: list[Step] = list(installer_steps(repo.root, repo.root, False, use_lfs)[0])
    if files:
        on_main = repo.head_branch() == report.main
        if on_main:
            init_op.refuse_dirty(repo, old, files, "upgrade")
        new = repo.commit_files(old, files, _message(files, report), report.dry_run)
        report.commit = None if report.dry_run else new  # a dry run's commit is not kept
        steps.append(RefUpdate(f"refs/heads/{report.main}", old, new, "(upgrade)"))
        if on_main:
            steps.append(Checkout(report.main))
    plan = Plan("upgrade", steps)
    report.steps = plan.describe()
    if not report.dry_run and not plan.empty:
        apply.apply(repo, plan)


def _message(files: dict[str, bytes], report: UpgradeReport) -> str:
    head = (f"branchml upgrade: config version {report.version_from} -> {report.version_to}"
            if report.version_from != report.version_to else "branchml upgrade: templates")
    listing = "\n".join(f"- {p}" for p in sorted(files))
    left = "".join(f"\n- {p} (conflicts with your edits: left as it was)"
                   for p in report.conflicts)
    return f"{head}\n\n{listing}{left}\n"
