"""A write command's plan: a flat list of small steps, described before any is applied.

Objects (blobs, trees, commits) are written while planning; they are inert until a ref
points at them. The apply layer runs the steps in order (installers, then one ref
transaction, then the worktree) and records each step's before/after in the operation log,
which is what `branchml undo` reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class RefUpdate(NamedTuple):
    ref: str
    old: str | None  # None: the ref must not exist yet
    new: str | None  # None: delete the ref
    reason: str = ""

    def describe(self) -> str:
        short = (self.new or "")[:10]
        if self.old is None:
            return f"create {self.ref} at {short} {self.reason}".rstrip()
        if self.new is None:
            return f"delete {self.ref}"
        return f"move {self.ref} {self.old[:10]} -> {short} {self.reason}".rstrip()


class ConfigSet(NamedTuple):
    key: str
    value: str
    old: str | None

    def describe(self) -> str:
        return f"git config {self.key} = {self.value}"


class ConfigUnset(NamedTuple):
    """A git config key removed (undo of a ConfigSet that created it)."""

    key: str
    old: str

    def describe(self) -> str:
        return f"git config --unset {self.key}"


class HookInstall(NamedTuple):
    name: str
    path: str  # absolute path of the hook file
    content: str
    keep_legacy: bool  # a foreign hook is there and moves to <name>.legacy
    mode: int = 0o755  # undo puts back the mode the file had (a disabled hook stays off)

    def describe(self) -> str:
        kept = " (existing hook kept as " + self.name + ".legacy)" if self.keep_legacy else ""
        return f"install hook {self.name}{kept}"


class HookRemove(NamedTuple):
    name: str
    path: str
    restore_legacy: bool

    def describe(self) -> str:
        back = " (restore " + self.name + ".legacy)" if self.restore_legacy else ""
        return f"remove hook {self.name}{back}"


class LfsInstall(NamedTuple):
    def describe(self) -> str:
        return "git lfs install --local --skip-repo (filters in .git/config)"


class Checkout(NamedTuple):
    branch: str

    def describe(self) -> str:
        return f"update the working tree to {self.branch}"


Step = RefUpdate | ConfigSet | ConfigUnset | HookInstall | HookRemove | LfsInstall | Checkout


@dataclass
class Plan:
    command: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.steps

    def describe(self) -> list[str]:
        return [s.describe() for s in self.steps]
