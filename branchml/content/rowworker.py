"""Rows compared in a helper process, so that NumPy imports beside branchml's own start-up.

Opt-in (`BRANCHML_ROW_HELPER=1`), and only used where the C row hashes are not built
(`core/native.py`): then it makes an append merge of big row files faster and costs a
second Python process (see docs/data-moves.md and docs/benchmarks.md). With the C hashes,
the command never imports NumPy for an append, so there is nothing left to overlap.

An append merge of big row files spends its time in two places on one core: importing
(pygit2, NumPy, branchml) and hashing rows (NumPy). With the helper, `pull` and `merge`
start it first thing (`start`); it imports NumPy on the other core while the command imports
the rest and reads the trees. When a file's sides are files on disk (git-lfs objects, big
blobs inflated to temp files), the append strategy asks the helper for the rows both sides
added (`core.newrows.rows_on_both`: usually none) and meanwhile copies ours into the result;
the command itself never imports NumPy. The helper only reads the files it is given.
Whatever goes wrong with it (it is gone, it answers nothing, the rows are malformed), the
command computes the answer itself, so errors and results are the same either way.

Protocol: one JSON line per request on stdin ({"fmt", "base", "ours", "theirs"}: paths), one
JSON line per answer on stdout ({"both": [rows as latin-1 text, a row once per copy ours
added]}, or {"error": ...})."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_worker: subprocess.Popen[bytes] | None = None


def start() -> None:
    """Start the helper when BRANCHML_ROW_HELPER=1 and the C row hashes are not built (once
    per process); `stop` ends it."""
    global _worker
    from branchml.core import native

    if _worker is None and os.environ.get("BRANCHML_ROW_HELPER") == "1" \
            and not native.available():
        try:
            # -I: nothing of the current folder (a checked-out branch may hold a package named
            # branchml), PYTHONPATH or the user's site folder is importable: only the install
            _worker = subprocess.Popen([sys.executable, "-I", "-m", "branchml.content.rowworker"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL)
        except OSError:
            _worker = None


def running() -> bool:
    return _worker is not None


def stop() -> None:
    global _worker
    if _worker is not None:
        _worker.kill()
        _worker.wait()
        for pipe in (_worker.stdin, _worker.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):  # a request it never read
                    pipe.close()
        _worker = None


class Pending:
    """An answer being computed by the helper: `result()` waits for it (once; later calls
    return the same), None when the helper could not give one."""

    def __init__(self, worker: subprocess.Popen[bytes] | None) -> None:
        self._worker = worker
        self._done = worker is None
        self._value: Counter[bytes] | None = None

    def result(self) -> Counter[bytes] | None:
        if not self._done:
            self._done = True
            self._value = _read_answer(self._worker)
        return self._value


def submit(fmt: str, base: Path | None, ours: Path, theirs: Path) -> Pending:
    """Ask the helper for the rows ours and theirs both added (see module doc)."""
    worker = _worker
    if worker is None or worker.stdin is None:
        return Pending(None)
    request = {"fmt": fmt, "base": None if base is None else str(base), "ours": str(ours),
               "theirs": str(theirs)}
    try:
        worker.stdin.write(json.dumps(request).encode() + b"\n")
        worker.stdin.flush()
    except OSError:
        stop()
        return Pending(None)
    return Pending(worker)


def _read_answer(worker: subprocess.Popen[bytes] | None) -> Counter[bytes] | None:
    if worker is None or worker.stdout is None:
        return None
    try:
        answer: dict[str, Any] = json.loads(worker.stdout.readline() or b"{}")
    except (OSError, ValueError):
        answer = {}
    if "both" not in answer:
        stop()  # gone, or it could not compare: the caller does it
        return None
    return Counter(row.encode("latin-1") for row in answer["both"])  # a row once per copy


def _serve() -> None:
    from branchml.core import rowhash  # noqa: F401  # NumPy, while the caller starts up
    from branchml.core.newrows import rows_on_both
    from branchml.core.rows import RowFormat

    def source(path: str | None) -> Any:
        return None if path is None else (lambda: Path(path).open("rb"))

    for line in sys.stdin.buffer:
        try:
            r = json.loads(line)
            both = rows_on_both(RowFormat(r["fmt"]), source(r["base"]), source(r["ours"]),
                                source(r["theirs"]))
            answer: dict[str, Any] = {"both": sorted(row.decode("latin-1")
                                                  for row in both.elements())}
        except Exception as e:  # the caller computes it again and reports the error itself
            answer = {"error": type(e).__name__}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()
