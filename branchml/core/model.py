"""The closed sets branchml reasons with: path classes, operations, branch kinds."""

from __future__ import annotations

from enum import StrEnum


class PathClass(StrEnum):
    CODE = "code"
    DATA = "data"
    MODELS = "models"
    TRACKING = "tracking"
    DOCS = "docs"
    CONFIG = "config"


class Op(StrEnum):
    """How a path may change: ADD a new file, GROW a file at its end, MODIFY, DELETE."""

    ADD = "add"
    GROW = "grow"
    MODIFY = "modify"
    DELETE = "delete"


ALL_OPS = frozenset(Op)
APPEND_OPS = frozenset({Op.ADD, Op.GROW})


class BranchKind(StrEnum):
    """Branch types are a closed set; each kind carries behaviour, not just a name."""

    MAIN = "main"
    DATA = "data"
    CODE = "code"
    STABLE = "stable"
    MONITORING = "monitoring"
    ANALYSIS = "analysis"

    @property
    def takes_promotions(self) -> bool:
        """Only stable branches receive code by `branchml promote`."""
        return self is BranchKind.STABLE
