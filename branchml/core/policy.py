"""The policy: which path class each path is in, and what each branch type may change."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from branchml.core.globs import glob_regex
from branchml.core.model import ALL_OPS, APPEND_OPS, BranchKind, Op, PathClass
from branchml.core.names import pattern_matches
from branchml.core.paths import DEFAULT_TREES, TreeRules, tree_rules


class BranchType(NamedTuple):
    pattern: str
    kind: BranchKind
    parent: str | None
    protected: bool
    may_change: Mapping[PathClass, frozenset[Op]]
    promoted: frozenset[PathClass] = frozenset()

    def matches(self, name: str) -> bool:
        return pattern_matches(self.pattern, name)

    def ops_for(self, cls: PathClass) -> frozenset[Op]:
        return self.may_change.get(cls, frozenset())

    def is_append_only(self, cls: PathClass) -> bool:
        ops = self.ops_for(cls)
        return bool(ops) and ops <= APPEND_OPS

    def summary(self) -> dict[str, list[str]]:
        """Path class -> allowed operations, in a stable order, for status and --json;
        a class that changes only by promotion shows ["promote"]."""
        order = list(Op)
        return {
            str(c): ["promote"] if c in self.promoted and self.kind.takes_promotions
            else sorted((str(o) for o in ops), key=lambda o: order.index(Op(o)))
            for c, ops in self.may_change.items()
        }


@dataclass(frozen=True)
class Policy:
    path_classes: tuple[tuple[PathClass, tuple[str, ...]], ...]
    default_class: PathClass
    branch_types: tuple[BranchType, ...]
    lfs_classes: frozenset[PathClass]
    unknown_branches: str  # "reject" | "allow"
    _cache: dict[str, PathClass] = field(default_factory=dict, compare=False, repr=False)
    trees: TreeRules = DEFAULT_TREES  # symlinks, gitlinks and mode changes (core/paths.py)

    def classify(self, path: str) -> PathClass:
        """The first class (in config order) with a glob matching `path`: one match of one
        alternation, whose alternatives are tried in config order."""
        hit = self._cache.get(path)
        if hit is None:
            m = self._classifier.match(path)
            hit = PathClass(m.lastgroup) if m and m.lastgroup else self.default_class
            self._cache[path] = hit
        return hit

    @cached_property
    def _classifier(self) -> re.Pattern[str]:
        alts = [
            f"(?P<{cls}>" + "|".join(glob_regex(g).pattern for g in globs) + ")"
            for cls, globs in self.path_classes
        ]
        return re.compile("|".join(alts) or "(?!)")

    def branch_type(self, name: str) -> BranchType | None:
        for bt in self.branch_types:
            if bt.matches(name):
                return bt
        return None

    def globs_of(self, cls: PathClass) -> tuple[str, ...]:
        return next((g for c, g in self.path_classes if c is cls), ())

    def parent_branch(self, name: str) -> str | None:
        """The concrete branch a new `name` is created from (`stable/x` from `dev/x`-style
        patterns resolve `*` to the same part)."""
        bt = self.branch_type(name)
        if bt is None or bt.parent is None:
            return None
        if "*" not in bt.parent:
            return bt.parent
        leaf = name.rsplit("/", 1)[-1]
        return bt.parent.replace("*", leaf)


def _ops(spec: Mapping[str, Any], classes: list[str]) -> dict[PathClass, frozenset[Op]]:
    ops_spec = spec.get("ops") or {}
    out: dict[PathClass, frozenset[Op]] = {}
    for c in classes:
        given = ops_spec.get(c)
        out[PathClass(c)] = frozenset(Op(o) for o in given) if given else ALL_OPS
    return out


def policy_from_config(cfg: Mapping[str, Any]) -> Policy:
    """Build a Policy from an effective config that has already passed the schema."""
    classes = tuple(
        (PathClass(name), tuple(globs)) for name, globs in cfg["path_classes"].items()
    )
    types = tuple(
        BranchType(
            pattern=pattern,
            kind=BranchKind(spec["type"]),
            parent=spec.get("parent"),
            protected=bool(spec.get("protected", False)),
            may_change=_ops(spec, list(spec.get("may_change", []))),
            promoted=frozenset(PathClass(c) for c in spec.get("promoted", [])),
        )
        for pattern, spec in cfg["branches"].items()
    )
    return Policy(
        path_classes=classes,
        default_class=PathClass(cfg.get("default_class", "code")),
        branch_types=types,
        lfs_classes=frozenset(PathClass(c) for c in cfg.get("lfs", [])),
        unknown_branches=cfg.get("unknown_branches", "reject"),
        trees=tree_rules(cfg.get("trees")),
    )
