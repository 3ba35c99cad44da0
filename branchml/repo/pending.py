"""Whether a branchml write was killed midway in the repository around a folder: the look
every command takes before anything else (`cli/main.py`), so it must cost next to nothing: a
few stats and the last line of the operation log, no subprocess, no import beyond `os`.
Finishing such a run is `recovery.py`'s job."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def pending(start: Path) -> bool:
    """True when the op log's last whole line is a `begin` (a run that never wrote `end`)."""
    common = common_dir(start.absolute())
    if common is None:
        return False
    try:
        # never follow a symlink nor wait on a FIFO: the reader or writer after refuses it
        fd = os.open(common / "branchml" / "oplog.jsonl",
                     os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return False
        with os.fdopen(fd, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - 4096))
            tail = f.read()
    except OSError:
        return False
    # the last whole line: the one before the final newline, or before a torn last line
    # (a kill mid-write), which says nothing
    lines = tail.split(b"\n")
    whole = lines[-2] if len(lines) > 1 else b""
    return b'"event": "begin"' in whole  # lines are json.dumps(sort_keys=True)


def common_dir(start: Path) -> Path | None:
    """The git common dir of the repository holding `start` ($GIT_DIR when set)."""
    env = os.environ.get("GIT_DIR")
    for d in ([Path(env)] if env else [start, *start.parents]):
        dot = d if env else d / ".git"
        if dot.is_file():  # a linked worktree: "gitdir: X", and X/commondir
            try:
                gitdir = Path(dot.read_text().split("gitdir:", 1)[1].strip())
                gitdir = gitdir if gitdir.is_absolute() else d / gitdir
                common = gitdir / (gitdir / "commondir").read_text().strip()
            except (OSError, IndexError):
                return None
            return common.resolve()
        if dot.is_dir():
            return dot
        if (d / "HEAD").is_file() and (d / "objects").is_dir():  # a bare repository
            return d
    return None
