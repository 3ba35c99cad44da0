"""Copying one stream onto another on a worker thread while the caller computes.

The append strategy writes ours (most of the result) this way while it hashes the new rows,
so the writer's own work on those bytes (the LFS object's SHA-256, or deflating a git blob)
runs on the other core. Reads and the writers' hashing and compressing release the GIL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import BinaryIO

CHUNK = 1 << 18


class BackgroundCopy:
    """Copies `src()` onto `out` on a thread; `result()` waits and returns the last byte
    copied (b"" when src was empty) or raises what the copy raised; `cancel()` stops it.
    Until either returns, nothing else may write to `out`."""

    def __init__(self, src: Callable[[], BinaryIO], out: BinaryIO) -> None:
        self._src, self._out = src, out
        self._last = b""
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="copy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._src() as f:
                while not self._stop.is_set() and (chunk := f.read(CHUNK)):
                    self._out.write(chunk)
                    self._last = chunk[-1:]
        except BaseException as e:  # handed to the caller in result()
            self._error = e

    def result(self) -> bytes:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._last

    def cancel(self) -> None:
        self._stop.set()
        self._thread.join()
