"""Copying one stream onto another on a worker thread while the caller computes.

The append strategy writes ours (most of the result) this way while it hashes the new rows,
so the writer's own work on those bytes (the LFS object's SHA-256, or deflating a git blob)
runs on the other core. Reads and the writers' hashing and compressing release the GIL.

When the writer can go back to a mark (`Rewindable`), the copy can go on, speculatively,
with what the caller expects to come next (theirs' new bytes, on an append-only file): the
writer hashes them while the caller is still checking them. The caller keeps them when the
check passes, or rewinds the writer to the end of ours and writes what it decided.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import BinaryIO, Protocol, runtime_checkable

CHUNK = 1 << 18

Source = Callable[[], BinaryIO]


@runtime_checkable
class Rewindable(Protocol):
    """A writer that can mark where it is and later drop everything written after it."""

    def write(self, data: bytes) -> int: ...
    def mark(self) -> None: ...
    def rewind(self) -> None: ...


class BackgroundCopy:
    """Copies `src()` onto `out` on a thread; `result()` waits and returns the last byte of
    src (b"" when src was empty) or raises what the copy raised; `cancel()` stops it. Until
    either returns, nothing else may write to `out`.

    `then(next_src)` (once, any time before `result()`) names what to copy after src when
    `out` is Rewindable and src ended with a newline; `out` is marked in between, and
    `continued` says whether all of next_src was copied. `then(None)`: nothing follows."""

    def __init__(self, src: Source, out: BinaryIO) -> None:
        self._src, self._out = src, out
        self._last = b""
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._next: Source | None = None
        self._decided = threading.Event()
        self.continued = False
        self._thread = threading.Thread(target=self._run, name="copy", daemon=True)
        self._thread.start()

    def then(self, next_src: Source | None) -> None:
        if not self._decided.is_set():
            self._next = next_src
            self._decided.set()

    def _run(self) -> None:
        try:
            self._last = self._copy(self._src)
            self._decided.wait()
            out, nxt = self._out, self._next
            if nxt is None or self._last != b"\n" or not isinstance(out, Rewindable):
                return
            out.mark()
            self._copy(nxt)
            self.continued = not self._stop.is_set()
        except BaseException as e:  # handed to the caller in result()
            self._error = e

    def _copy(self, src: Source) -> bytes:
        last = b""
        with src() as f:
            while not self._stop.is_set() and (chunk := f.read(CHUNK)):
                self._out.write(chunk)
                last = chunk[-1:]
        return last

    def result(self) -> bytes:
        self.then(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._last

    def cancel(self) -> None:
        self._stop.set()
        self.then(None)
        self._thread.join()
