"""`branchml init`: a new repository laid out for the workflow, or an existing one adopted."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from branchml import config
from branchml.core.names import check_branch_name, model_name_problem
from branchml.core.plan import Checkout, ConfigSet, Plan, RefUpdate, Step
from branchml.core.policy import Policy, policy_from_config
from branchml.errors import DirtyWorktree, NotARepository, UsageError
from branchml.ops import initnotes, mainname, scaffold, scaffold_record
from branchml.ops.install import ci_template, installer_steps
from branchml.ops.scaffold_record import ScaffoldRecord
from branchml.repo import apply, hooks, lfs, objectstore, proc, worktree
from branchml.repo.reader import Git

MAIN = mainname.MAIN
TRUSTED_KEY = mainname.TRUSTED_KEY


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
    main: str = MAIN
    models: list[str] = field(default_factory=list)
    code_on_main: list[str] = field(default_factory=list)
    untyped: list[dict[str, str]] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps and not self.created_repo and not self.recovered

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "nothing_to_do": self.nothing_to_do}


def workflow_branches(*models: str) -> list[str]:
    return ["raw", "clean", "split", "monitoring",
            *(b for m in models for b in (f"dev/{m}", f"stable/{m}"))]


def init(path: Path, model: str | None = None, with_hooks: bool = True, use_lfs: bool = True,
         dry_run: bool = False, ci: str | None = None, main: str | None = None) -> InitReport:
    """`model` None: the models recorded on main (a rerun), else "model"; `main` None: the
    main branch named by `branchml.trustedRef`, else "main"."""
    ci_file = ci_template(ci) if ci is not None else None  # a bad value before anything
    if model is not None and "/" in model:
        raise UsageError(f"--model {model!r} must be one name part, without '/'.")
    check_branch_name(f"dev/{model or 'model'}")
    if model is not None and model_name_problem(model):
        raise UsageError(f"--model {model!r} is not a valid model name: "
                         f"{model_name_problem(model)}.")
    if main is not None:
        mainname.check(main)
    if use_lfs:
        lfs.require()
    path = path.absolute()
    report = InitReport(str(path), dry_run=dry_run)
    existing = _find_repo(path)
    if existing is None:
        report.main = main or MAIN
        if dry_run:
            return _describe_new(report, path, model or "model", with_hooks, use_lfs, ci_file)
        _refuse_files_in_the_way(path, model or "model", use_lfs,
                                 [ci_file[0]] if ci_file else [])
        path.mkdir(parents=True, exist_ok=True)
        existing = objectstore.Repo.create(path)
        if report.main != MAIN:  # unborn: only HEAD names it
            proc.run(["git", "symbolic-ref", "HEAD", f"refs/heads/{report.main}"], cwd=path)
        report.created_repo = True
    else:
        report.main = mainname.choose(existing, main)
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
    files = scaffold.scaffold_files(path.name, model, use_lfs, report.main)
    if ci_file:
        files[ci_file[0]] = ci_file[1]
    report.files = sorted([*files, ".gitattributes", ".gitignore"] if use_lfs
                          else [*files, ".gitignore"])
    report.branches = [report.main, *workflow_branches(model)]
    report.models = [model]
    report.steps = [f"create repository {path}",
                    f"commit on {report.main}: {', '.join(report.files)}"]
    report.steps.append(f"git config {TRUSTED_KEY} = refs/heads/{report.main}")
    report.steps += [f"create {b}" for b in workflow_branches(model)]
    if use_lfs:
        report.steps.append("git lfs install --local --skip-repo (filters in .git/config)")
    if with_hooks:
        report.steps += [f"install hook {n}" for n in hooks.wanted(False, use_lfs)]
    return report


class _Facts(NamedTuple):
    main: str
    head: str | None
    old_main: str | None
    base: str | None
    record: ScaffoldRecord | None  # what an earlier init scaffolded (None: nothing yet)
    models: tuple[str, ...]
    template: dict[str, bytes]


def _facts(repo: objectstore.Repo, g: Git, main: str, model: str | None,
           project: str, use_lfs: bool) -> _Facts:
    head = repo.head_branch()
    old_main = repo.branch_target(main)
    base = old_main or (repo.resolve("HEAD") if head is not None else None)
    paths = scaffold.scaffold_files(project, "model", use_lfs, main)
    record = scaffold_record.read(g, old_main, paths) if old_main else None
    had = record.models if record else ()
    models = tuple(dict.fromkeys([*had, *([model] if model else [])])) or ("model",)
    template = scaffold.scaffold_files(project, model or models[0], use_lfs, main)
    return _Facts(main, head, old_main, base, record, models, template)


def _main_files(repo: objectstore.Repo, f: _Facts) -> tuple[dict[str, bytes], Policy]:
    """Files to write on main: scaffold files main lacks that branchml never made there (a
    doc the user deleted stays deleted), the scaffold record, and extended dotfiles."""
    made = f.record.files if f.record else {}
    out = {p: data for p, data in f.template.items()
           if p not in made and repo.read_file(f.base, p) is None}
    record = ScaffoldRecord(f.models, made).with_files(
        {p: d for p, d in out.items() if p != config.CONFIG_FILE})
    if config.CONFIG_FILE in out:
        if f.base is not None:  # adopting a repository with history
            out[config.CONFIG_FILE] += _cutoff_block(f.base)
        out[config.CONFIG_FILE] = scaffold_record.with_record(out[config.CONFIG_FILE], record)
    elif out or (f.record is not None and f.record.models != f.models):
        have = repo.read_file(f.base, config.CONFIG_FILE) or b""
        out[config.CONFIG_FILE] = scaffold_record.with_record(have, record)
    cfg_bytes = out.get(config.CONFIG_FILE) or repo.read_file(f.base, config.CONFIG_FILE)
    cfg = config.load_bytes(cfg_bytes, config.CONFIG_FILE)
    policy = policy_from_config(cfg)
    attrs = scaffold.extend_lines(repo.read_file(f.base, ".gitattributes"),
                                  scaffold.attribute_lines(policy, cfg.get("merge") or {}),
                                  "added by branchml init")
    ignore = scaffold.extend_lines(repo.read_file(f.base, ".gitignore"),
                                   scaffold.ignore_lines(), "added by branchml init")
    for name, data in ((".gitattributes", attrs), (".gitignore", ignore)):
        if data is not None:
            out[name] = data
    return out, policy


def _cutoff_block(base: str) -> bytes:
    """The adoption cut-off (ops/adoption.py): history up to `base` is not judged."""
    return (f"\n# This repository was adopted by `branchml init`: its commits up to this one are "
            f"history from\n# before the policy and are not judged. Never change it "
            f"(docs/enforcement.md).\nadopted:\n  before: {base}\n").encode()


def _plan_and_apply(repo: objectstore.Repo, report: InitReport, path: Path, model: str | None,
                    with_hooks: bool, use_lfs: bool,
                    ci_file: tuple[str, bytes] | None = None) -> None:
    said = None if report.dry_run else apply.prepare(repo)
    if said:
        report.recovered = True
        report.notes.append("completed an earlier run that was interrupted after its refs "
                            f"moved ({said})")
    assert repo.root is not None
    g = Git(repo.root)
    try:
        f = _facts(repo, g, report.main, model, path.name, use_lfs)
        report.models = list(f.models)
        files, policy = _main_files(repo, f)
        _ci(repo, f.base, ci_file, files, report)
        refs = _main_ref(repo, f, files, report)
        new_main = refs[0].new if refs else f.base
        if new_main is not None:
            refs += _branch_refs(repo, policy, f, new_main, report)
        _notes(g, f, files, policy, refs, report)
    finally:
        g.close()
    steps: list[Step] = []
    # always written, main too: no later command guesses main from the remote's branches
    if repo.config_get(TRUSTED_KEY) != f"refs/heads/{report.main}":
        steps.append(ConfigSet(TRUSTED_KEY, f"refs/heads/{report.main}",
                               repo.config_get(TRUSTED_KEY)))
    use_lfs = use_lfs and bool(policy.lfs_classes)
    steps += installer_steps(repo.root, repo.root, False, use_lfs, with_hooks)[0]
    steps += refs
    if f.head == report.main and files:
        steps.append(Checkout(report.main))
    plan = Plan("init", steps)
    report.steps = plan.describe()
    report.branches = [r.ref.removeprefix("refs/heads/") for r in refs]
    if not report.dry_run and not plan.empty:
        apply.apply(repo, plan)
    if not report.dry_run and new_main is not None:
        _prime_config_cache(repo, new_main)


def _ci(repo: objectstore.Repo, base: str | None, ci_file: tuple[str, bytes] | None,
        files: dict[str, bytes], report: InitReport) -> None:
    have_ci = repo.read_file(base, ci_file[0]) if ci_file else None
    if ci_file and have_ci is None:
        files[ci_file[0]] = ci_file[1]
    elif ci_file and have_ci != ci_file[1]:  # the team's own CI file: kept, never replaced
        report.notes.append(f"kept {ci_file[0]} as main has it, which is not branchml's "
                            "CI template: merge the two by hand (docs/hosts.md)")


def _main_ref(repo: objectstore.Repo, f: _Facts, files: dict[str, bytes],
              report: InitReport) -> list[RefUpdate]:
    """The commit of `files` on main, after refusing a dirty checkout of main."""
    report.files = sorted(files)
    if not files:
        return []
    if f.head == f.main:
        refuse_dirty(repo, f.base, files)
    new_main = repo.commit_files(f.base, files, _message(files, f.main), report.dry_run)
    return [RefUpdate(f"refs/heads/{f.main}", f.old_main, new_main, "(scaffold)")]


def _notes(g: Git, f: _Facts, files: dict[str, bytes], policy: Policy,
           refs: list[RefUpdate], report: InitReport) -> None:
    """Code on main and branches of no type, when init adopts a repository with history."""
    if f.base is None or config.CONFIG_FILE not in files or f.record is not None:
        return
    report.code_on_main = initnotes.code_on_main(g, f.base, policy, f.main)
    if report.code_on_main:
        report.notes.append(initnotes.code_note(report.code_on_main, f.main, f.models))
    planned = [f.main, *(r.ref.removeprefix("refs/heads/") for r in refs)]
    report.untyped = initnotes.untyped(g, policy, planned, f.head, f.old_main is None)
    report.notes += [u["what"] for u in report.untyped]


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


def refuse_dirty(repo: objectstore.Repo, base: str | None, files: dict[str, bytes],
                 command: str = "init") -> None:
    assert repo.root is not None
    dirty = worktree.dirty(repo.root) if base else []
    new_paths = [p for p in files if repo.read_file(base, p) is None]
    in_way = worktree.untracked_in_the_way(repo.root, new_paths)
    if dirty or in_way:
        what = ", ".join((dirty + in_way)[:5])
        raise DirtyWorktree(
            f"the working tree of main has uncommitted or untracked files that {command} would "
            f"overwrite ({what}): commit, stash or move them, then run `branchml {command}` "
            "again."
        )


def _branch_refs(repo: objectstore.Repo, policy: Policy, f: _Facts, main_sha: str,
                 report: InitReport) -> list[RefUpdate]:
    planned: dict[str, str] = {f.main: main_sha}
    refs: list[RefUpdate] = []
    for name in workflow_branches(*f.models):
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


def _message(files: dict[str, bytes], main: str = MAIN) -> str:
    listing = "\n".join(f"- {p}" for p in sorted(files))
    return f"branchml init: lay out the project on {main}\n\n{listing}\n"
