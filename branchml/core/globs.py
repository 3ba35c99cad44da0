"""Path globs as branchml.yaml writes them: `*` within a path segment, `**` across segments."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=512)
def glob_regex(glob: str) -> re.Pattern[str]:
    """Compile a glob: `*` and `?` stay inside one segment, `**/` spans any number of them.

    A glob without a slash matches at the top level only (`*.md` is `README.md`, not
    `docs/a.md`); write `**/*.md` for every level.
    """
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(glob: str, path: str) -> bool:
    return glob_regex(glob).match(path) is not None
