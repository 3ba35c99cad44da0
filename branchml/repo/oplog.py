"""The operation log: every write command's moves, before and after, for `branchml undo`.

Each operation writes a `begin` line (with its intent: the ref moves and checkouts it plans)
before it changes anything, and an `end` line with what it did; a `begin` without an `end`
marks an operation that was killed midway, which the next write command completes when its
refs had moved (`recovered`).
Format (JSON lines in <git-common-dir>/branchml/oplog.jsonl):
  {"op": ID, "event": "begin", "time": ISO, "command": NAME, "argv": [...]}
  {"op": ID, "event": "end", "time": ISO, "changes": [ {"kind": "ref"|"config"|"hook", ...} ]}
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def log_path(common_dir: Path) -> Path:
    return common_dir / "branchml" / "oplog.jsonl"


def _append(common_dir: Path, record: dict[str, Any]) -> None:
    path = log_path(common_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


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
    path = log_path(common_dir)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
