"""`branchml clone URL [DIR]`: a clone that is ready to work, or nothing at all.

The remote is listed before anything is made here (unreachable, refused, not a branchml
repository: one sentence, no folder). Then: `git init`, the remote configured, objects
fetched, the trusted config read from the remote's main, and one plan applied (hooks, merge
drivers, LFS filters, a local tracking branch per typed branch, release tags, deploy refs,
the checked-out branch's files). Only the checked-out branch's LFS objects are fetched; the
commands that read other branches' LFS files fetch theirs on demand (repo/lfs.py). Any
failure, Ctrl-C included, removes what was made; a folder that existed (empty) is emptied.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from branchml import config
from branchml.core import bounds
from branchml.core.names import check_branch_name
from branchml.core.plan import Checkout, Plan, Step
from branchml.core.policy import policy_from_config
from branchml.errors import ConfigError, StateError, UsageError
from branchml.ops import install, remoterefs, sync
from branchml.ops.trusted import main_problem
from branchml.repo import apply, lfs, objectstore, proc, remote
from branchml.repo.reader import Git

ORIGIN = "origin"
# the remote's branches, and its deploy refs without `+`: a plain `git fetch` later brings
# deployments forward and refuses a rewritten one instead of replacing local audit history
FETCH = ("+refs/heads/*:refs/remotes/origin/*", "refs/deploy/*:refs/deploy/*")
NOT_BRANCHML = ("clone it with git clone; adopt it with branchml init . (in the clone)")


@dataclass
class CloneReport:
    url: str
    path: str
    checked_out: str
    branches: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    deploys: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    main: str = "main"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "path": self.path, "checked_out": self.checked_out,
                "branches": self.branches, "tags": self.tags, "deploys": self.deploys,
                "skipped": self.skipped, "steps": self.steps, "main": self.main,
                "notes": self.notes}


class MainChoice(NamedTuple):
    name: str
    given: bool  # named by --main (else the remote's HEAD, or main)
    note: str  # why this one when the remote's HEAD and a branch `main` differ


def clone(url: str, directory: str | Path | None = None, branch: str = "main",
          main: str | None = None) -> CloneReport:
    """`main`: the main branch, chosen by the user; None: the remote's HEAD decides."""
    check_branch_name(branch)
    if main is not None:
        check_branch_name(main)
    target = Path(directory) if directory is not None else Path(default_dir(url))
    url = _check_url(url)
    _check_target(target)
    listed = remote.ls_remote(None, url)  # reachable, and ours: nothing made before this
    choice = _main_of(url, listed, main)
    if branch == "main":  # the default: the main branch, whatever its name
        branch = choice.name
    made = _make(target)
    try:
        return _clone(url, target.resolve(), branch, listed, choice)
    except BaseException:
        _unmake(target, made)
        raise


def _main_of(url: str, listed: dict[str, str], given: str | None) -> MainChoice:
    """`--main`, else the branch the remote's HEAD names (its owner sets HEAD, no pushed
    commit can; a pusher may create a branch called `main`), else `main` when HEAD is
    detached or absent. Its own config must type it main (checked once fetched)."""
    head = remote.head_branch(None, url)
    has_main = "refs/heads/main" in listed
    name = given or head or ("main" if has_main else None)
    if name is None:
        raise remote.RemoteError(f"{url} has no main branch, so it is not a branchml "
                                 f"repository: {NOT_BRANCHML} (or, when its HEAD is detached "
                                 "and main has another name, give it with --main NAME).")
    if f"refs/heads/{name}" not in listed:
        if given:
            raise UsageError(f"--main {given}: {url} has no branch {given}; give one of its "
                             "branches.")
        raise remote.RemoteError(f"{url} has no main branch, so it is not a branchml "
                                 f"repository: {NOT_BRANCHML}.")
    note = ""
    if has_main and name != "main":
        why = "you gave --main" if given else "the remote's HEAD (only its owner sets it) names it"
        note = (f"{url} has both {name} and a branch main: {name} is trusted as main because "
                f"{why}; give --main main to trust the other instead.")
    elif given and head and head != given:
        note = f"{given} is trusted as main because you gave --main ({url}'s HEAD names {head})."
    return MainChoice(name, given is not None, note)


def default_dir(url: str) -> str:
    """The folder git clone would pick: the URL's last part without `.git`."""
    name = re.split(r"[/:]", url.rstrip("/").removesuffix("/.git").removesuffix(".git"))[-1]
    if not name or name in (".", ".."):
        raise UsageError(f"cannot tell a folder name from {url!r}: give DIR.")
    return name


def _check_url(url: str) -> str:
    """The URL as the clone's config will hold it: a local path made absolute (the clone
    lives elsewhere), never one git could read as an option."""
    if not url or url.startswith("-") or "\n" in url or "\0" in url:
        raise UsageError(f"{url!r} is not a repository URL.")
    if "://" in url or re.match(r"[^/]+@[^/]+:|[A-Za-z0-9.-]{2,}:", url):
        return url
    if not Path(url).exists():
        raise remote.RemoteError(f"{url} is a path that does not exist: check it (a local "
                                 "repository is given by its folder or a file:// URL).")
    return str(Path(url).resolve())


def _check_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise StateError(f"{target} already exists and is not an empty folder: give another "
                         "DIR (or empty it); nothing was changed.")


def _make(target: Path) -> Path | None:
    """Create `target` (and missing parents); returns the topmost folder made (None: it was
    there, empty)."""
    if target.exists():
        return None
    top = target
    while not top.parent.exists():
        top = top.parent
    target.mkdir(parents=True)
    return top


def _unmake(target: Path, made: Path | None) -> None:
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
        return
    for child in target.iterdir():  # the folder was there and empty: empty again
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _clone(url: str, root: Path, branch: str, listed: dict[str, str],
           choice: MainChoice) -> CloneReport:
    main = choice.name
    proc.run(["git", "init", "-q", f"--initial-branch={branch}", "--", str(root)], cwd=root)
    proc.run(["git", "config", "remote.origin.url", url], cwd=root)
    for spec in FETCH:
        proc.run(["git", "config", "--add", "remote.origin.fetch", spec], cwd=root)
    if main != "main":  # every door of the clone reads it through trusted_ref
        proc.run(["git", "config", "branchml.trustedRef", f"refs/heads/{main}"], cwd=root)
    remote.fetch(root, ORIGIN, [f"refs/heads/{main}"], objects_only=True)
    cfg = _trusted_config(root, listed[f"refs/heads/{main}"], url)
    _check_main(url, choice, cfg)
    policy, fmt = policy_from_config(cfg), remoterefs.tag_format_of(cfg)
    view = remoterefs.classify(listed, policy, fmt)
    if branch not in view.heads:
        raise UsageError(f"{url} has no typed branch {branch!r} to check out: give one of "
                         f"{', '.join(sorted(view.heads))} with --branch.")
    types = remoterefs.fetch_objects(root, ORIGIN, view)
    view = remoterefs.only_commits(root, view, types)  # a branch at a blob never lands here
    if branch not in view.heads:
        raise remote.RemoteError(f"{url}'s {branch} does not point at a commit: check out "
                                 "another branch with --branch.")
    repo = objectstore.Repo(root)
    g = Git(root)
    try:
        report = sync.SyncReport(ORIGIN)
        steps = sync.Planner(g, repo, ORIGIN, policy, view, types, report,
                              judge=False).plan(fmt)
        hooks_etc, _ = install.installer_steps(root, root, False, bool(policy.lfs_classes))
    finally:
        g.close()
    if policy.lfs_classes:
        lfs.require()
    plan: list[Step] = [*hooks_etc, *steps]
    try:  # the checkout's smudge downloads the branch's LFS objects, in git-lfs's batches
        apply.apply(repo, Plan(f"clone {url}", plan))
    except StateError as e:
        if not policy.lfs_classes or "smudge filter lfs failed" not in str(e):
            raise
        raise remote.RemoteError(
            f"fetching the git-lfs objects of {branch} from {ORIGIN} failed: the remote's "
            "LFS store may lack them or refuse us (`git lfs fetch origin "
            f"{branch}` says why); nothing was left here: fix that and clone again."
        ) from None
    remoterefs.save_state(repo.common_dir, ORIGIN, url, view.flat())
    return CloneReport(url, str(root), branch, sorted(view.heads), sorted(view.tags),
                       sorted(view.deploys), view.skipped,
                       [s.describe() for s in plan if not isinstance(s, Checkout)],
                       main, [choice.note] if choice.note else [])


def _check_main(url: str, choice: MainChoice, cfg: dict[str, Any]) -> None:
    """The rule of `init/install --main`: the chosen branch's own config types it main, and
    no other type of the default config matches its name (a host's default branch set to a
    dev branch that any pusher writes is never the policy)."""
    problem = main_problem(choice.name, cfg)
    if not problem:
        return
    if choice.given:
        raise UsageError(f"--main {choice.name}: {problem}; give the branch that holds the "
                         "project's main line; nothing was cloned.")
    raise StateError(f"{url}'s HEAD names {choice.name}, but {problem}, so it is not trusted "
                     "as main: give the main branch with --main NAME; nothing was cloned.")


def _trusted_config(root: Path, main: str, url: str) -> dict[str, Any]:
    """The remote's main's branchml.yaml, read as the trusted config (a commit of any other
    branch has no say)."""
    g = Git(root)
    source = f"{url} main:{config.CONFIG_FILE}"
    try:  # its size first: a remote's config over 64 KiB is never read
        found = g.read_bounded(f"{main}:{config.CONFIG_FILE}", bounds.CONFIG, source)
    except bounds.TooLarge as e:
        raise ConfigError(f"{source}: {e.size:,} bytes is over the limit of {e.limit:,} bytes "
                          f"({bounds.human(e.limit)}); it was not read, and nothing was "
                          "cloned.") from None
    finally:
        g.close()
    if not found:
        raise remote.RemoteError(f"{url}'s main has no {config.CONFIG_FILE}, so it is not a "
                                 f"branchml repository: {NOT_BRANCHML}.")
    return config.load_bytes(found[1], source)
