"""The library surface for re-running releases (issue 21, r1): `train`, `reproduce` and
`environment`, re-exported by `branchml.api`. Never prints: a training command's own output
goes to `output` (the caller's stderr by default), as the command itself would print it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypedDict, cast

if TYPE_CHECKING:
    from branchml.ops.reproduce import Reproduction
    from branchml.ops.train import TrainReport

__all__ = ["Environment", "environment", "reproduce", "train"]


class Environment(TypedDict):
    """What tracking/environment.json holds: the interpreter (its version and its path,
    `executable`), the platform, and every installed distribution as [name, version]
    (sorted) with their digest."""

    python: str
    executable: str
    implementation: str
    platform: str
    machine: str
    packages: list[list[str]]
    packages_digest: str


def environment() -> Environment:
    """The environment record of the running interpreter (what `branchml train` writes),
    for a training script that records itself."""
    from branchml.ops import train as op

    return cast(Environment, op.environment())


def train(path: str | Path = ".", dry_run: bool = False, output: BinaryIO | None = None
          ) -> TrainReport:
    """Run main's train.command in this stable checkout's root and write
    tracking/environment.json (nothing is committed)."""
    from branchml.ops import train as op

    return op.train(Path(path), output or sys.stderr.buffer, dry_run)


def reproduce(tag: str, path: str | Path = ".", keep: bool = False,
              output: BinaryIO | None = None) -> Reproduction:
    """Re-run release `tag` (verified first) in a temporary worktree and compare its models,
    metrics and environment with the manifest's."""
    from branchml.ops import reproduce as op

    return op.reproduce(Path(path), tag, output or sys.stderr.buffer, keep)
