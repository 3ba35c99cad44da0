"""Git merge drivers: `merge=branchml-append` / `merge=branchml-overwrite` in .gitattributes.

The driver is a thin shell around `strategies.append_file`, the function `branchml merge`
calls too: git writes the three blob contents (pointers, for git-lfs files) to %O %A %B, the
driver writes the result blob content to %A and exits 0, or exits 1 (a conflict git records)
with one sentence on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

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
                                        widen=bool(cfg.get("widen_columns", False)))
        Path(ours).write_bytes(merged.content)
        g.close()
        return 0
    except BranchmlError as e:
        sys.stderr.write(f"branchml merge-driver: {e}\n")
        return 1
