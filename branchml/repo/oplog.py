"""The operation log: every write command's moves, before and after, for `branchml undo`.

Each operation writes a `begin` line (with its intent: the ref moves and checkouts it plans)
before it changes anything, and an `end` line with what it did; a `begin` without an `end`
marks an operation that was killed midway, which the next write command completes when its
refs had moved (`recovered`).
Format (JSON lines in <git-common-dir>/branchml/oplog.jsonl):
  {"op": ID, "event": "begin", "time": ISO, "command": NAME, "argv": [...]}
  {"op": ID, "event": "end", "time": ISO, "changes": [ {"kind": "ref"|"config"|"hook", ...} ]}
Changes: `ref` (ref, old, new: object ids, None for absent), `config` (key, old, new: None
for unset), `hook` (path, action, legacy, and since issue 20 old_blob/new_blob: the hook
file before and after, kept as git blobs so `undo` can put the bytes back), `lfs` (since
issue 20 old/new: the filter keys before and after), `worktree` (branch). Lines of older
versions lack the issue-20 fields and stay readable. `branchml undo` is logged as a write
whose command is `undo [--revert] <op>` (ops/undolog.py reads the log as a stack).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from branchml.errors import StateError


def log_path(common_dir: Path) -> Path:
    return common_dir / "branchml" / "oplog.jsonl"


MAX_LINE = 1 << 20  # branchml's lines are far shorter: a longer one is not branchml's


def open_log(path: Path, flags: int, mode: int = 0o644) -> int:
    """The log's file descriptor, only when the log is a regular file: a symlink (which would
    make a write truncate or append to a file outside the repository) or a FIFO (which would
    hang every command) is refused with one sentence."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK, mode)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _not_a_file(path, "a symbolic link") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _not_a_file(path, "not a regular file")
    return fd


def _not_a_file(path: Path, what: str) -> StateError:
    return StateError(f"the operation log {path} is {what}, which branchml never makes: "
                      "move it away (branchml starts a new log), then run the command again.")


def lines(path: Path) -> Iterator[tuple[bytes, bool]]:
    """The log's lines, streamed (a big log is not read whole), each with whether it ends in
    a newline (only the last may not: torn by a kill). Raises StateError on a line over
    MAX_LINE. Nothing when there is no log."""
    try:
        fd = open_log(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    except OSError as e:
        raise StateError(f"could not read the operation log {path} ({e.strerror or e}).") \
            from None
    with os.fdopen(fd, "rb") as f:
        while raw := f.readline(MAX_LINE + 1):
            whole = raw.endswith(b"\n")
            if len(raw) > MAX_LINE:
                raise StateError(f"the operation log {path} holds a line over 1 MiB, which "
                                 "branchml never writes: remove that line (or the file), then "
                                 "run the command again.")
            yield raw.rstrip(b"\n"), whole


def _append(common_dir: Path, record: dict[str, Any]) -> None:
    path = log_path(common_dir)
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = open_log(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        try:
            _cut_torn_tail(fd)
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise StateError(f"could not write the operation log {path} ({e.strerror or e}); "
                         "free space or make it writable, then run the command again.") from None


def _cut_torn_tail(fd: int) -> None:
    """A process killed while it wrote its line leaves the log without its final newline:
    the torn line is cut off (it described nothing that happened: every line is written
    before the step it announces, or after the steps it lists, which are all done)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    start = max(0, size - (1 << 16))
    tail = os.pread(fd, size - start, start)
    cut = tail.rfind(b"\n")
    os.ftruncate(fd, start + cut + 1 if cut >= 0 else (0 if start == 0 else size))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def begin(common_dir: Path, command: str, intent: dict[str, Any] | None = None) -> str:
    """`intent`: the ref moves and checkouts planned, so a killed run can be completed."""
    op = f"{int(time.time())}-{os.urandom(4).hex()}"  # uuid would import platform
    _append(common_dir, {"op": op, "event": "begin", "time": _now(), "command": command,
                         "argv": sys.argv[1:], "intent": intent or {}})
    return op


def mark(common_dir: Path, op: str, event: str) -> None:
    _append(common_dir, {"op": op, "event": event, "time": _now()})


def end(common_dir: Path, op: str, changes: list[dict[str, Any]], ok: bool = True) -> None:
    _append(common_dir, {"op": op, "event": "end" if ok else "failed", "time": _now(),
                         "changes": changes})


def read(common_dir: Path) -> list[dict[str, Any]]:
    records = []
    for line, _ in lines(log_path(common_dir)):
        try:
            record = json.loads(line)
        except ValueError:  # a line torn by a kill (cut off by the next write)
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def last(common_dir: Path) -> dict[str, Any] | None:
    """The last whole record, from the end of the file (the log only grows)."""
    path = log_path(common_dir)
    try:
        with os.fdopen(open_log(path, os.O_RDONLY), "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - (1 << 16)))
            tail = f.read()
    except (OSError, StateError):
        return None  # the next reader or writer says why
    for line in reversed(tail.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            return record
    return None
