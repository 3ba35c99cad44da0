"""Git merge drivers: `merge=branchml-append` / `merge=branchml-overwrite` in .gitattributes.

The driver is a thin shell around `strategies.append_file`, the function `branchml merge`
calls too: git writes the three blob contents (pointers, for git-lfs files) to %O %A %B, the
driver writes the result blob content to %A and exits 0, or exits 1 (a conflict git records)
with one sentence on stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from branchml.core.plan import ConfigSet, Step
from branchml.errors import BranchmlError
from branchml.repo.reader import Git

DRIVERS = {
    "append": "branchml append: ours, then theirs' new rows or files",
    "overwrite": "branchml overwrite: theirs wins, whole file",
}


def config_steps(git: Git) -> list[Step]:
    steps: list[Step] = []
    for name, label in DRIVERS.items():
        wanted = {f"merge.branchml-{name}.name": label,
                  f"merge.branchml-{name}.driver": f"branchml merge-driver {name} %O %A %B %P"}
        for key, value in wanted.items():
            now = git.config(key)
            if now != value:
                steps.append(ConfigSet(key, value, now))
    return steps


def run(strategy: str, base: str, ours: str, theirs: str, path: str) -> int:
    from branchml.content import strategies
    from branchml.ops.trusted import trusted_config

    try:
        if strategy not in DRIVERS:
            raise BranchmlError(f"unknown merge strategy {strategy!r}; use append or overwrite.")
        theirs_bytes = Path(theirs).read_bytes()
        if strategy == "overwrite":
            Path(ours).write_bytes(theirs_bytes)
            return 0
        g = Git(".")
        store = strategies.Store(g.layout.common_dir, Path.cwd())
        cfg = trusted_config(g)
        base_bytes = Path(base).read_bytes()
        merged = strategies.append_file(path, base_bytes, Path(ours).read_bytes(), theirs_bytes,
                                        store, cfg.get("formats") or {},
                                        widen=bool(cfg.get("widen_columns", False)),
                                        carry=carrying(g, cfg, os.environ))
        Path(ours).write_bytes(merged.content)
        g.close()
        return 0
    except BranchmlError as e:
        sys.stderr.write(f"branchml merge-driver: {e}\n")
        return 1


def carrying(g: Git, cfg: Mapping[str, Any], env: Mapping[str, str]) -> bool:
    """Whether this `git merge` carries removals (pulls.carry_removals), as `branchml pull`
    would: the checked-out branch is a pair's destination and the merged commit is on the
    first-parent chain of the pair's source here (local, or its remote-tracking branch).
    `git merge` names the merged commit in GITHEAD_<sha> (one for a two-head merge); the
    checker proves a carried removal again from the objects, so this only decides what the
    driver writes."""
    from branchml.core.carry import pairs_of, sources_into
    from branchml.ops.carrycheck import base_is_last_pull

    heads = [k.removeprefix("GITHEAD_") for k in env if k.startswith("GITHEAD_")]
    dst = g.current_branch()
    if len(heads) != 1 or dst is None:
        return False
    theirs = heads[0]
    for src in sources_into(pairs_of(cfg), dst):
        for ref in (f"refs/heads/{src}", f"refs/remotes/origin/{src}"):
            tip = g.resolve(ref)
            if tip is not None and g.on_first_parent_chain(tip, theirs):
                return base_is_last_pull(g, "HEAD", theirs)  # the checker's rule
    return False
