"""The check every `-o`/`--report` writer that renames a temporary file over its FILE makes
first: a rename replaces whatever the name holds, so a device link (/dev/stdout), a named
pipe or a socket would be swapped for a regular file (run as root, a machine's /dev/stdout
was). FILE may be new, a regular file, or a link to a regular file inside the working
folder; anything under /dev, /proc or /sys is refused outright."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from branchml.errors import UsageError

SYSTEM = (Path("/dev"), Path("/proc"), Path("/sys"))


def _system(path: Path) -> bool:
    return any(path == d or path.is_relative_to(d) for d in SYSTEM)


def check_replaceable(path: Path, shown: str, root: Path) -> None:
    """UsageError (exit 2) unless a rename over `path` replaces only a regular file (or
    creates one): `shown` is the name the user gave, `root` the working folder."""
    absolute = Path(os.path.abspath(path))
    if _system(absolute) or _system(absolute.parent.resolve()):
        raise UsageError(f"{shown} is under /dev, /proc or /sys, which branchml never "
                         "replaces: name a regular file.")
    try:
        st = absolute.lstat()
    except FileNotFoundError:
        return
    except OSError as e:
        raise UsageError(f"{shown}: {e.strerror or e}: name another file.") from None
    if stat.S_ISREG(st.st_mode):
        return
    if stat.S_ISLNK(st.st_mode) and _link_to_regular_inside(absolute, root):
        return
    raise UsageError(f"{shown} exists and is not a regular file (a link elsewhere, a named "
                     "pipe, a socket or a device): name a regular file, which is replaced "
                     "whole.")


def _link_to_regular_inside(link: Path, root: Path) -> bool:
    try:
        real = link.resolve(strict=True)
        st = real.stat()
    except (OSError, RuntimeError):  # dangling, a loop
        return False
    return stat.S_ISREG(st.st_mode) and not _system(real) and \
        real.is_relative_to(root.resolve())
