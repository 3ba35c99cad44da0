"""Tree entries that git refuses to check out, or that poison a branch: paths, links, modes.

Pure. Git refuses to check out a path with a part `.`, `..` or `.git` (in any case, and the
spellings NTFS and HFS+ read as `.git`: `.git.`, `.git `, `git~1`, `.git:x`, `.g\u200cit`);
such an entry, once on an append-only branch, breaks every later checkout of it and cannot
be removed. Symbolic links and gitlinks (submodules) are refused in the classes the config
does not allow them in (a data symlink to /etc/passwd gets read by whatever consumes the
data), and on an append-only class a file keeps its mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from branchml.core.changes import Change
from branchml.core.model import PathClass

SYMLINK, GITLINK, ABSENT = "120000", "160000", "000000"

# git's verify_path: "." and ".." parts (only "/" separates parts there), and is_ntfs_dotgit:
# ".git" or "git~1", then any run of spaces and dots, then the end, a separator or ":" (an
# NTFS stream). "\" separates parts for the NTFS rule, as git's protectNTFS does (on by
# default on every platform since git 2.24). Empty parts: "a//b", "/a", "a/".
_BAD_PART = re.compile(
    r"(?:^|/)(\.\.?)(?=/|$)"
    r"|(?:^|[/\\])((?:\.git|git~1)[. ]*)(?=$|[/\\:])"
    r"|(^/|//|/$)",
    re.IGNORECASE,
)
# a symlinked .gitmodules lets a checkout write through it: verify_path refuses it
_GITMODULES = re.compile(r"(?:^|[/\\])(?:\.gitmodules|gitmod~\d)[. ]*$", re.IGNORECASE)
# code points HFS+ ignores in a name, so ".g\u200cit" is ".git" there (git's is_hfs_dotgit)
_HFS_IGNORED = dict.fromkeys([*range(0x200C, 0x2010), *range(0x202A, 0x202F),
                              *range(0x206A, 0x2070), 0xFEFF])
_NO_LINKS = frozenset({PathClass.DATA, PathClass.MODELS})


class TreeRules(NamedTuple):
    """`trees:` in branchml.yaml: the classes that may hold symlinks or gitlinks, and whether
    a mode-only change (chmod) may land on an append-only class."""

    symlinks: frozenset[PathClass] = frozenset(PathClass) - _NO_LINKS
    gitlinks: frozenset[PathClass] = frozenset(PathClass) - _NO_LINKS
    mode_changes: bool = False


DEFAULT_TREES = TreeRules()


def tree_rules(spec: dict[str, object] | None) -> TreeRules:
    """TreeRules from the `trees:` mapping of an effective config (schema-checked)."""
    spec = spec or {}
    default = DEFAULT_TREES

    def classes(key: str, fallback: frozenset[PathClass]) -> frozenset[PathClass]:
        given = spec.get(key)
        if not isinstance(given, Iterable):
            return fallback
        return frozenset(PathClass(str(c)) for c in given)

    return TreeRules(classes("symlinks", default.symlinks),
                     classes("gitlinks", default.gitlinks),
                     bool(spec.get("mode_changes", False)))


def refused_part(path: str, mode: str = "100644") -> str | None:
    """The part of `path` for which git refuses to check it out, or None when it is fine."""
    if not ("/." in path or path[:1] in "./" or path[-1:] == "/" or "~" in path
            or "//" in path or "\\" in path or not path.isascii()):
        return None  # the common case, ten times faster than the search below
    m = _BAD_PART.search(path)
    if m:
        return m.group(1) or m.group(2) or ""  # "": an empty part
    if mode == SYMLINK and _GITMODULES.search(path):
        return path.replace("\\", "/").rsplit("/", 1)[-1]
    if not path.isascii():
        for part in re.split(r"[/\\]", path):
            if part.translate(_HFS_IGNORED).lower() == ".git":
                return part
    return None


def tree_verdict(change: Change, cls: PathClass, append_only: bool, rules: TreeRules
                 ) -> tuple[str, str] | None:
    """(rule, what is wrong) for an entry git refuses or the config does not allow, else None.
    A deletion is always fine here: removing a bad entry is the repair."""
    if change.status == "D":
        return None
    part = refused_part(change.path, change.new_mode)
    if part is not None:
        return "bad-path", part
    new, old = change.new_mode, change.old_mode
    if new == SYMLINK and cls not in rules.symlinks:
        return "symlink", ""
    if new == GITLINK and cls not in rules.gitlinks:
        return "gitlink", ""
    if append_only and not rules.mode_changes and old != new and ABSENT not in (old, new):
        return "mode-change", ""
    return None
