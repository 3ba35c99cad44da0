"""The operation log read as a stack of writes, for `branchml undo` and `undo --list`.

The log (repo/oplog.py) is a file anyone with access to the repository can edit, so it is
read strictly here: a line that is not a JSON object, a ref name outside `refs/` (`HEAD`,
`../../x`), an object id that is not 40 or 64 hex digits, a hook path or git config key
branchml never writes: the read stops with one sentence naming the line, and nothing of the
log reaches git. Only the last line may be torn (a kill while it was written: the next write
cuts it off), and it is skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.core.names import ref_name_problem
from branchml.errors import StateError
from branchml.repo import oplog

PUT_BACK = "(push failed)"  # the tail of a put-back's command (ops/deploy.py)
UNDO_COMMAND = re.compile(r"undo (?:--revert )?(\d{1,12}-[0-9a-f]{8})\Z")
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_OP_ID = re.compile(r"\d{1,12}-[0-9a-f]{8}")
_HOOK_NAME = re.compile(r"[a-z][a-z-]{1,40}")
# keys whose old value undo may write back; any other key's value could run code
# (merge.*.driver, filter.*) or is not branchml's, and is only ever removed when branchml made it
_RESTORABLE = re.compile(r"branchml\.[A-Za-z]+|receive\.fsckObjects|lfs\.storage"
                         r"|branch\.[^\s]+\.(?:remote|merge)|merge\.branchml-[a-z]+\.name")
_REMOVABLE = re.compile(r"merge\.branchml-[a-z]+\.driver|filter\.lfs\.[a-z]+"
                        r"|lfs\.repositoryformatversion")


@dataclass
class Op:
    """One write: its `begin` line, and what its later lines said."""

    op: str
    time: str
    command: str
    argv: list[str]
    state: str = "killed midway"  # done, failed, killed midway, undone
    changes: list[dict[str, Any]] = field(default_factory=list)
    undoes: str | None = None  # the op this one is the undo of
    line: int = 0
    intent: list[dict[str, Any]] = field(default_factory=list)  # ref moves its begin planned

    @property
    def is_undo(self) -> bool:
        return self.undoes is not None


def read_ops(path: Path) -> list[Op]:
    """Every write in the log, oldest first; raises StateError on a line not written by
    branchml (see the module docstring)."""
    ops: dict[str, Op] = {}
    for number, (raw, whole) in enumerate(oplog.lines(path), 1):
        # a line without its newline can only be the last, torn by a kill: it describes
        # nothing that happened
        if raw.strip() and whole:
            _take(ops, _record(path, number, raw), path, number)
    for op in ops.values():
        target = ops.get(op.undoes or "")
        if op.undoes and op.state == "done" and target is not None:
            target.state = "undone"
    return _fold_put_backs(list(ops.values()))


def _fold_put_backs(ops: list[Op]) -> list[Op]:
    """A `--push` refused by the remote puts its local record back at once (ops/deploy.py
    logs that as `undo <command> (push failed)`): the two are one command that changed
    nothing, shown as `failed (put back)`, which undo skips. The pair is folded only when
    the put-back follows its write directly and moves exactly its refs back."""
    out: list[Op] = []
    for op in ops:
        before = out[-1] if out else None
        if before is not None and op.state == "done" and _puts_back(before, op):
            before.state = "failed (put back)"
            continue
        out.append(op)
    return out


def _puts_back(op: Op, back: Op) -> bool:
    if back.command != f"undo {op.command} {PUT_BACK}" or op.state != "done":
        return False
    moved = [(c["ref"], c["new"], c["old"]) for c in op.changes if c["kind"] == "ref"]
    return bool(moved) and sorted(moved) == sorted(
        (c["ref"], c["old"], c["new"]) for c in back.changes if c["kind"] == "ref")


def _record(path: Path, number: int, raw: bytes) -> dict[str, Any]:
    try:
        record = json.loads(raw)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not _OP_ID.fullmatch(str(record.get("op", ""))):
        raise _bad(path, number, "is not a record branchml wrote")
    return record


def _take(ops: dict[str, Op], record: dict[str, Any], path: Path, number: int) -> None:
    op_id, event = str(record["op"]), record.get("event")
    if event == "begin":
        command, argv = record.get("command"), record.get("argv", [])
        if not isinstance(command, str) or not isinstance(argv, list):
            raise _bad(path, number, "has no command")
        found = UNDO_COMMAND.match(command)
        ops[op_id] = Op(op_id, str(record.get("time", "")), command, [str(a) for a in argv],
                        undoes=found.group(1) if found else None, line=number,
                        intent=_intent(record, path, number))
        return
    op = ops.get(op_id)
    if op is None:
        raise _bad(path, number, f"ends an operation {op_id} that never began")
    if event in ("end", "failed"):
        changes = record.get("changes")
        if not isinstance(changes, list):
            raise _bad(path, number, "has no list of changes")
        problem = next(filter(None, (change_problem(c) for c in changes)), None)
        if problem:
            raise _bad(path, number, problem)
        op.changes = changes
        op.state = "done" if event == "end" else "failed"
    elif event in ("recovered", "abandoned", "rolled-back"):
        op.state = "killed midway" if event == "recovered" else f"killed midway ({event})"
    else:
        raise _bad(path, number, f"has an unknown event {event!r}")


def _intent(record: dict[str, Any], path: Path, number: int) -> list[dict[str, Any]]:
    """The ref moves a `begin` planned: what a killed write may have done."""
    intent = record.get("intent") or {}
    moves = intent.get("refs", []) if isinstance(intent, dict) else None
    if not isinstance(moves, list) or not all(isinstance(m, dict) for m in moves):
        raise _bad(path, number, "has an intent that is not branchml's")
    problem = next(filter(None, (_ref_problem(m.get("ref"), m.get("old"), m.get("new"))
                                 for m in moves)), None)
    if problem:
        raise _bad(path, number, problem)
    return moves


def _bad(path: Path, number: int, what: str) -> StateError:
    return StateError(f"line {number} of the operation log {path} {what}; undo refuses to "
                      "read a log it cannot trust: remove that line (or the file), then run "
                      "undo again.")


def change_problem(c: Any) -> str | None:
    """Why `c` is not a change branchml records (None: it is one)."""
    if not isinstance(c, dict):
        return "holds a change that is not an object"
    kind = c.get("kind")
    if kind == "ref":
        return _ref_problem(c.get("ref"), c.get("old"), c.get("new"))
    if kind == "config":
        key = c.get("key")
        if not isinstance(key, str) or not (_RESTORABLE.fullmatch(key)
                                             or _REMOVABLE.fullmatch(key)):
            return f"names the git config key {str(key)[:60]!r}, which branchml never writes"
        return None if all(v is None or isinstance(v, str) for v in (c.get("old"), c.get("new"))) \
            else "holds a config value that is not text"
    if kind == "hook":
        name = Path(str(c.get("path", ""))).name
        if not _HOOK_NAME.fullmatch(name) or not all(
                v is None or (isinstance(v, str) and _OBJECT_ID.fullmatch(v))
                for v in (c.get("old_blob"), c.get("new_blob"))) or not all(
                v is None or (type(v) is int and 0 <= v <= 0o777)
                for v in (c.get("old_mode"), c.get("new_mode"))):
            return "holds a hook change that is not branchml's"
        return None
    return None if kind in ("lfs", "worktree") else f"holds a change of unknown kind {kind!r}"


def _ref_problem(ref: Any, old: Any, new: Any) -> str | None:
    if not isinstance(ref, str) or not ref.startswith("refs/") \
            or ref_name_problem(ref.removeprefix("refs/")) is not None:
        return f"names {str(ref)[:60]!r}, which is not a ref under refs/"
    for value in (old, new):
        if value is not None and not (isinstance(value, str) and _OBJECT_ID.fullmatch(value)):
            return f"moves {ref} to {str(value)[:60]!r}, which is not an object id"
    return None


def restorable(key: str, value: str | None) -> bool:
    """Whether undo may set `key` back to `value` (None: remove it)."""
    return value is None or bool(_RESTORABLE.fullmatch(key))
