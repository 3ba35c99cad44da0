"""The library surface: what the CLI calls and what Python users import. Never prints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by each function when called: `--version`-light imports
    from branchml.ops.branch import BranchReport
    from branchml.ops.check import CheckResult
    from branchml.ops.ci import GatesReport
    from branchml.ops.clone import CloneReport
    from branchml.ops.init import InitReport
    from branchml.ops.install import InstallReport
    from branchml.ops.merge import MergeResult
    from branchml.ops.push import PushReport
    from branchml.ops.release import Verification
    from branchml.ops.split import SplitReport
    from branchml.ops.status import StatusReport
    from branchml.ops.sync import SyncReport

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


def init(path: str | Path = ".", model: str = "model", hooks: bool = True, lfs: bool = True,
         dry_run: bool = False, ci: str | None = None) -> InitReport:
    """Create (or adopt) a repository laid out for the branchml workflow; `ci` ("github",
    "gitlab") adds that host's CI file to the init commit on main."""
    from branchml.ops import init as op

    return op.init(Path(path), model, hooks, lfs, dry_run, ci)


def install(path: str | Path = ".", uninstall: bool = False, dry_run: bool = False,
            no_lfs: bool = False, lfs_storage: str | None = None,
            ci: str | None = None) -> InstallReport:
    """Install (or remove) branchml's hooks and git-lfs's filters in a clone; in a bare
    repository, `lfs_storage` sets where its LFS objects live (git config lfs.storage);
    `ci` ("github", "gitlab") writes that host's CI file into the working tree."""
    from branchml.ops import install as op

    return op.install(Path(path), uninstall, dry_run, no_lfs, lfs_storage, ci)


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


def promote(src: str, dst: str, path: str | Path = ".", dry_run: bool = False) -> Any:
    """One commit on `dst` whose code is exactly `src`'s; gates run on the result first."""
    from branchml.ops import promote as op

    return op.promote(Path(path), src, dst, dry_run)


def tag(client: str, rev: str | None = None, path: str | Path = ".", message: str = "",
        push: bool = False, allow_same: bool = False, dry_run: bool = False) -> dict[str, Any]:
    """Mint `<client>-v<N>` on a stable commit with its manifest; returns the manifest."""
    from branchml.ops import release as op

    return op.tag(Path(path), client, rev, message, push, allow_same, dry_run=dry_run)


def releases(path: str | Path = ".", client: str | None = None) -> list[dict[str, Any]]:
    """Every release (or one client's), read from tags alone in one pass."""
    from branchml.ops import release as op
    from branchml.repo.reader import Git

    g = Git(Path(path))
    return [r.to_dict() for r in op.read_releases(g, op.tag_format(g), client)]


def show(name: str, path: str | Path = ".") -> dict[str, Any]:
    """The manifest of release tag `name`."""
    from branchml.ops import release as op
    from branchml.repo.reader import Git

    g = Git(Path(path))
    return op.own_manifest(op.find(g, op.tag_format(g), name))


def verify(name: str, path: str | Path = ".") -> Verification:
    """Recompute release `name`'s manifest and the size and SHA-256 of every LFS object it
    names; `.ok` is False when a field or an object differs (`.problems()` says which)."""
    from branchml.ops import release as op

    return op.verify(Path(path), name)


def lineage(file: str, rev: str | None = None, path: str | Path = ".") -> dict[str, Any]:
    from branchml.ops import release as op

    return op.lineage(Path(path), file, rev)


def diff(a: str, b: str, path: str | Path = ".") -> dict[str, Any]:
    from branchml.ops import release as op

    return op.diff(Path(path), a, b)


def deploy(client: str, tag: str, path: str | Path = ".", canary: str | None = None,
           fraction: float | None = None, dry_run: bool = False, push: bool = False
           ) -> dict[str, Any]:
    """Record that `client` runs `tag`; with `push`, the deploy ref goes to origin in the
    same atomic push as `branchml push` (a failed push moves the local ref back)."""
    from branchml.ops import deploy as op

    return op.deploy(Path(path), client, tag, canary, fraction, dry_run=dry_run, push=push)


def rollback(client: str, to: str | None = None, path: str | Path = ".",
             dry_run: bool = False, push: bool = False) -> dict[str, Any]:
    from branchml.ops import deploy as op

    return op.rollback(Path(path), client, to, dry_run, push)


def deployed(client: str, at: str | None = None, path: str | Path = ".") -> dict[str, Any]:
    from branchml.ops import deploy as op

    return op.deployed(Path(path), client, at)


def track(src: str | None = None, path: str | Path = ".", dry_run: bool = False) -> Any:
    """Copy a stable commit's (or release's) tracking, MLflow runs included, onto main."""
    from branchml.ops import track as op

    return op.track(Path(path), src, dry_run)


def runs(path: str | Path = ".") -> list[dict[str, Any]]:
    """The run log on main (tracking/runs.jsonl), newest first."""
    from branchml.ops import track as op

    return op.runs(Path(path))


def config_validate(file: str | Path) -> dict[str, Any]:
    """The effective config of `file`; raises ConfigError with one sentence if invalid."""
    from branchml import config

    return config.load_file(Path(file))


def config_show(path: str | Path = ".") -> dict[str, Any]:
    """The effective config that judges this repository (main's, with defaults filled in)."""
    from branchml import config
    from branchml.ops.trusted import trusted_ref
    from branchml.repo.reader import Git

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


def clone(url: str, directory: str | Path | None = None, branch: str = "main") -> CloneReport:
    """Clone a branchml repository ready to work: a local tracking branch per typed branch,
    release tags, deploy refs, hooks, merge drivers and LFS filters; only `branch`'s LFS
    objects. Any failure leaves nothing behind."""
    from branchml.ops import clone as op

    return op.clone(url, directory, branch)


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
