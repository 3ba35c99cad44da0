"""The background copy: all bytes in order, its errors handed back, stoppable."""

from __future__ import annotations

import io
import threading

import pytest

from branchml.core.background import CHUNK, BackgroundCopy


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 7])
def test_copies_every_byte_in_order(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    out = io.BytesIO()
    copy = BackgroundCopy(lambda: io.BytesIO(data), out)
    assert copy.result() == data[-1:]
    assert out.getvalue() == data


def test_an_error_in_the_copy_reaches_the_caller() -> None:
    class Broken(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            raise OSError("disk gone")

    copy = BackgroundCopy(lambda: Broken(), io.BytesIO())
    with pytest.raises(OSError, match="disk gone"):
        copy.result()


def test_cancel_stops_a_copy_that_is_still_running() -> None:
    written: list[int] = []
    started, gate = threading.Event(), threading.Event()

    class Slow(io.BytesIO):
        def write(self, b: bytes) -> int:  # type: ignore[override]
            written.append(len(b))
            started.set()
            gate.wait()
            return len(b)

    copy = BackgroundCopy(lambda: io.BytesIO(b"y" * (10 * CHUNK)), Slow())
    started.wait()
    threading.Timer(0.2, gate.set).start()  # the first write returns after cancel asked
    copy.cancel()
    assert written == [CHUNK]
