"""`branchml init`: a new repository laid out for the workflow, or an existing one adopted."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml import config
from branchml.core.names import check_branch_name
from branchml.core.plan import Checkout, Plan, RefUpdate, Step
from branchml.core.policy import Policy, policy_from_config
from branchml.errors import DirtyWorktree, NotARepository, UsageError
from branchml.ops import scaffold
from branchml.ops.install import ci_template, installer_steps
from branchml.repo import apply, hooks, lfs, objectstore, worktree

MAIN = "main"


@dataclass
class InitReport:
    path: str
    created_repo: bool = False
    files: list[str] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    recovered: bool = False

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps and not self.created_repo and not self.recovered

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "nothing_to_do": self.nothing_to_do}


def workflow_branches(model: str) -> list[str]:
    return ["raw", "clean", "split", "monitoring", f"dev/{model}", f"stable/{model}"]


def init(path: Path, model: str = "model", with_hooks: bool = True, use_lfs: bool = True,
         dry_run: bool = False, ci: str | None = None) -> InitReport:
    ci_file = ci_template(ci) if ci is not None else None  # a bad value before anything
    if "/" in model:
        raise UsageError(f"--model {model!r} must be one name part, without '/'.")
    check_branch_name(f"dev/{model}")
    if use_lfs:
        lfs.require()
    path = path.absolute()
    report = InitReport(str(path), dry_run=dry_run)
    existing = _find_repo(path)
    if existing is None:
        if dry_run:
            return _describe_new(report, path, model, with_hooks, use_lfs, ci_file)
        _refuse_files_in_the_way(path, model, use_lfs, [ci_file[0]] if ci_file else [])
        path.mkdir(parents=True, exist_ok=True)
        existing = objectstore.Repo.create(path)
        report.created_repo = True
    _plan_and_apply(existing, report, path, model, with_hooks, use_lfs, ci_file)
    return report


def _find_repo(path: Path) -> objectstore.Repo | None:
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} is a file; give a folder for the repository.")
    if not path.exists():
        return None
    try:
        repo = objectstore.Repo(path)
    except NotARepository:
        return None
    if repo.root is None:
        raise UsageError(
            f"{path} is a bare repository: run `branchml install` there for the server hook."
        )
    if repo.root.resolve() != path.resolve():
        raise UsageError(
            f"{path} is inside the repository at {repo.root}: run `branchml init {repo.root}` "
            "to adopt that repository."
        )
    return repo


def _describe_new(report: InitReport, path: Path, model: str, with_hooks: bool,
                  use_lfs: bool, ci_file: tuple[str, bytes] | None) -> InitReport:
    files = scaffold.scaffold_files(path.name, model, use_lfs)
    if ci_file:
        files[ci_file[0]] = ci_file[1]
    report.files = sorted([*files, ".gitattributes", ".gitignore"] if use_lfs
                          else [*files, ".gitignore"])
    report.branches = [MAIN, *workflow_branches(model)]
    report.steps = [f"create repository {path}", f"commit on main: {', '.join(report.files)}"]
    report.steps += [f"create {b}" for b in workflow_branches(model)]
    if use_lfs:
        report.steps.append("git lfs install --local --skip-repo (filters in .git/config)")
    if with_hooks:
        report.steps += [f"install hook {n}" for n in hooks.wanted(False, use_lfs)]
    return report


def _main_files(repo: objectstore.Repo, base: str | None, project: str, model: str,
                use_lfs: bool) -> tuple[dict[str, bytes], Policy]:
    """Files to write on main: scaffold files main lacks, and extended dotfiles."""
    out = {p: data for p, data in scaffold.scaffold_files(project, model, use_lfs).items()
           if repo.read_file(base, p) is None}
    if base is not None and config.CONFIG_FILE in out:  # adopting a repository with history
        out[config.CONFIG_FILE] += _cutoff_block(base)
    cfg_bytes = repo.read_file(base, config.CONFIG_FILE) or out[config.CONFIG_FILE]
    cfg = config.load_bytes(cfg_bytes, config.CONFIG_FILE)
    policy = policy_from_config(cfg)
    attrs = scaffold.extend_lines(repo.read_file(base, ".gitattributes"),
                                  scaffold.attribute_lines(policy, cfg.get("merge") or {}),
                                  "added by branchml init")
    ignore = scaffold.extend_lines(repo.read_file(base, ".gitignore"), scaffold.ignore_lines(),
                                   "added by branchml init")
    for name, data in ((".gitattributes", attrs), (".gitignore", ignore)):
        if data is not None:
            out[name] = data
    return out, policy


def _cutoff_block(base: str) -> bytes:
    """The adoption cut-off (ops/adoption.py): history up to `base` is not judged."""
    return (f"\n# This repository was adopted by `branchml init`: its commits up to this one are "
            f"history from\n# before the policy and are not judged. Never change it "
            f"(docs/enforcement.md).\nadopted:\n  before: {base}\n").encode()


def _plan_and_apply(repo: objectstore.Repo, report: InitReport, path: Path, model: str,
                    with_hooks: bool, use_lfs: bool,
                    ci_file: tuple[str, bytes] | None = None) -> None:
    said = None if report.dry_run else apply.prepare(repo)
    if said:
        report.recovered = True
        report.notes.append("completed an earlier run that was interrupted after its refs "
                            f"moved ({said})")
    head = repo.head_branch()
    old_main = repo.branch_target(MAIN)
    base = old_main or (repo.resolve("HEAD") if head is not None else None)
    files, policy = _main_files(repo, base, path.name, model, use_lfs)
    have_ci = repo.read_file(base, ci_file[0]) if ci_file else None
    if ci_file and have_ci is None:
        files[ci_file[0]] = ci_file[1]
    elif ci_file and have_ci != ci_file[1]:  # the team's own CI file: kept, never replaced
        report.notes.append(f"kept {ci_file[0]} as main has it, which is not branchml's "
                            "CI template: merge the two by hand (docs/hosts.md)")
    on_main = head == MAIN
    if files and on_main:
        _refuse_dirty(repo, base, files)
    new_main = base
    refs: list[RefUpdate] = []
    if files:
        new_main = repo.commit_files(base, files, _message(files))
    if new_main != old_main:
        assert new_main is not None
        refs.append(RefUpdate(f"refs/heads/{MAIN}", old_main, new_main, "(scaffold)"))
    report.files = sorted(files)
    if new_main is not None:
        refs += _branch_refs(repo, policy, model, new_main, report)
    steps: list[Step] = []
    use_lfs = use_lfs and bool(policy.lfs_classes)
    assert repo.root is not None
    inst, _ = installer_steps(repo.root, repo.root, False, use_lfs, with_hooks)
    steps += inst
    steps += refs
    if on_main and files:
        steps.append(Checkout(MAIN))
    plan = Plan("init", steps)
    report.steps = plan.describe()
    report.branches = [r.ref.removeprefix("refs/heads/") for r in refs]
    if not report.dry_run and not plan.empty:
        apply.apply(repo, plan)
    if not report.dry_run and new_main is not None:
        _prime_config_cache(repo, new_main)


def _prime_config_cache(repo: objectstore.Repo, main: str) -> None:
    """Parse main's config once now, into the cache every later command reads first, so the
    first pull or hook after init does not load PyYAML and jsonschema (~0.15 s)."""
    raw = repo.read_file(main, config.CONFIG_FILE)
    if raw is not None:
        config.load_bytes(raw, config.CONFIG_FILE, repo.common_dir / "branchml" / "cache")


def _refuse_files_in_the_way(path: Path, model: str, use_lfs: bool,
                             extra: list[str]) -> None:
    if not path.exists():
        return
    names = [*scaffold.scaffold_files(path.name, model, use_lfs), ".gitattributes", ".gitignore",
             *extra]
    in_way = worktree.untracked_in_the_way(path, names)
    if in_way:
        raise DirtyWorktree(
            f"{path} already holds {', '.join(in_way[:5])}, which init would overwrite: move "
            "them away, or `git init` and commit them first so that init adopts them."
        )


def _refuse_dirty(repo: objectstore.Repo, base: str | None, files: dict[str, bytes]) -> None:
    assert repo.root is not None
    dirty = worktree.dirty(repo.root) if base else []
    new_paths = [p for p in files if repo.read_file(base, p) is None]
    in_way = worktree.untracked_in_the_way(repo.root, new_paths)
    if dirty or in_way:
        what = ", ".join((dirty + in_way)[:5])
        raise DirtyWorktree(
            f"the working tree of main has uncommitted or untracked files that init would "
            f"overwrite ({what}): commit, stash or move them, then run `branchml init` again."
        )


def _branch_refs(repo: objectstore.Repo, policy: Policy, model: str, main_sha: str,
                 report: InitReport) -> list[RefUpdate]:
    planned: dict[str, str] = {MAIN: main_sha}
    refs: list[RefUpdate] = []
    for name in workflow_branches(model):
        have = repo.branch_target(name)
        if have is not None:
            planned[name] = have
            report.kept.append(name)
            continue
        parent = policy.parent_branch(name)
        if policy.branch_type(name) is None or parent not in planned:
            report.notes.append(f"{name}: no branch type or parent for it in branchml.yaml")
            continue
        planned[name] = planned[parent]
        refs.append(RefUpdate(f"refs/heads/{name}", None, planned[parent], f"(from {parent})"))
    return refs


def _message(files: dict[str, bytes]) -> str:
    listing = "\n".join(f"- {p}" for p in sorted(files))
    return f"branchml init: lay out the project on main\n\n{listing}\n"
