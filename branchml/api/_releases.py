"""The library surface for releases and deployments (tag, releases, show, verify, lineage,
diff, deploy, rollback, deployed, split rows): re-exported by `branchml.api`, which is what
users import. Never prints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from branchml.results import (
    DeployedRecord,
    Deployment,
    Lineage,
    Manifest,
    ReleaseDiff,
    ReleaseRow,
)

if TYPE_CHECKING:
    from branchml.ops.release import NextRelease, Verification
    from branchml.ops.splitrows import SplitRows

__all__ = ["deploy", "deployed", "diff", "lineage", "next_release", "releases", "rollback",
           "show", "split_rows", "tag", "verify"]


def tag(client: str, rev: str | None = None, path: str | Path = ".", message: str = "",
        push: bool = False, allow_same: bool = False, dry_run: bool = False) -> Manifest:
    """Mint `<client>-v<N>` on a stable commit with its manifest; returns the manifest."""
    from branchml.ops import release as op

    return cast(Manifest, op.tag(Path(path), client, rev, message, push, allow_same,
                                 dry_run=dry_run))


def releases(path: str | Path = ".", client: str | None = None) -> list[ReleaseRow]:
    """Every release (or one client's), read from tags alone in one pass."""
    from branchml.ops import release as op
    from branchml.repo.reader import Git

    g = Git(Path(path))
    return [cast(ReleaseRow, r.to_dict()) for r in op.read_releases(g, op.tag_format(g), client)]


def show(name: str, path: str | Path = ".") -> Manifest:
    """The manifest of release tag `name`."""
    from branchml.ops import release as op
    from branchml.repo.reader import Git

    g = Git(Path(path))
    return cast(Manifest, op.own_manifest(op.find(g, op.tag_format(g), name)))


def verify(name: str, path: str | Path = ".") -> Verification:
    """Recompute release `name`'s manifest and the size and SHA-256 of every LFS object it
    names; `.ok` is False when a field or an object differs (`.problems()` says which)."""
    from branchml.ops import release as op

    return op.verify(Path(path), name)


def lineage(file: str, rev: str | None = None, path: str | Path = ".") -> Lineage:
    """Where model `file` at `rev` (a release tag or commit; default HEAD) came from: its
    data, code and promotion, and which releases hold the same model."""
    from branchml.ops import modellineage as op

    return cast(Lineage, op.lineage(Path(path), file, rev))


def diff(a: str, b: str, path: str | Path = ".") -> ReleaseDiff:
    """What changed from release `a` to release `b`: code, data, models, params, metrics."""
    from branchml.ops import releasediff as op

    return cast(ReleaseDiff, op.diff(Path(path), a, b))


def deploy(client: str, tag: str, path: str | Path = ".", canary: str | None = None,
           fraction: float | None = None, dry_run: bool = False, push: bool = False
           ) -> Deployment:
    """Record that `client` runs `tag`; with `push`, the deploy ref goes to origin in the
    same atomic push as `branchml push` (a failed push moves the local ref back)."""
    from branchml.ops import deploy as op

    return cast(Deployment, op.deploy(Path(path), client, tag, canary, fraction,
                                      dry_run=dry_run, push=push))


def rollback(client: str, to: str | None = None, path: str | Path = ".",
             dry_run: bool = False, push: bool = False) -> Deployment:
    """Move `client` back to the release it ran before the current one (or to `to`)."""
    from branchml.ops import deploy as op

    return cast(Deployment, op.rollback(Path(path), client, to, dry_run, push))


def deployed(client: str, at: str | None = None, path: str | Path = ".") -> DeployedRecord:
    """Which release `client` ran at `at` (an ISO date and time; default: now)."""
    from branchml.ops import deploy as op

    return cast(DeployedRecord, op.deployed(Path(path), client, at))


def split_rows(name: str, output: str | Path, purpose: str = "train", path: str | Path = ".",
               rev: str | None = None, dry_run: bool = False) -> SplitRows:
    """Write the rows of split `name` (train, val, test, or several joined by commas) to
    `output`, read from the assignment and data of the checked-out commit when it holds an
    assignment (stable/* after `pull split`), else of the split branch (or `rev`'s), and
    record the request (split, assignment digest, data commit, rows, `purpose`: train, tune
    or evaluate) in the working tree's tracking/splits.jsonl, where `tag` finds it; `dry_run`
    counts the rows and writes nothing."""
    from branchml.ops import splitrows as op

    return op.split_rows(Path(path), name, Path(output), purpose, rev, dry_run)


def next_release(client: str, path: str | Path = ".") -> NextRelease:
    """The release name `tag --client CLIENT` would mint now (acme-v3); writes nothing."""
    from branchml.ops import release as op

    return op.next_release(Path(path), client)
