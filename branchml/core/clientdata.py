"""An analysis branch (ds/CLIENT) holds one client's monitored data: monitoring/CLIENT/. The
same predicate decides what `pull monitoring ds/CLIENT` takes and what the checker refuses."""

from __future__ import annotations

from branchml.core.model import BranchKind, PathClass
from branchml.core.policy import BranchType

MONITORING = "monitoring/"  # where `monitor log` writes: monitoring/<client>/<tag>/<date>/


def analysis_client(bt: BranchType | None, branch: str) -> str | None:
    """The client an analysis branch is about: its last name part (ds/acme -> acme)."""
    if bt is None or bt.kind is not BranchKind.ANALYSIS:
        return None
    return branch.rsplit("/", 1)[-1]


def foreign(path: str, cls: PathClass, client: str) -> bool:
    """Monitored data that is not `client`'s: a data path under monitoring/ outside
    monitoring/<client>/ (monitoring/checks/ is config in the default classes: not data)."""
    return (cls is PathClass.DATA and path.startswith(MONITORING)
            and not path.startswith(f"{MONITORING}{client}/"))
