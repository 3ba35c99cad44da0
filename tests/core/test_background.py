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


class Rewinding(io.BytesIO):
    """A writer the copy may go on into (as the LFS object writer is)."""

    marks = 0

    def mark(self) -> None:
        self.marks += 1
        self.at = self.tell()

    def rewind(self) -> None:
        self.seek(self.at)
        self.truncate()


def test_goes_on_with_the_next_source_after_a_mark() -> None:
    out = Rewinding()
    copy = BackgroundCopy(lambda: io.BytesIO(b"a\n" * CHUNK), out)
    copy.then(lambda: io.BytesIO(b"b\n"))
    assert copy.result() == b"\n"  # the last byte of the first source
    assert copy.continued and out.marks == 1
    assert out.getvalue() == b"a\n" * CHUNK + b"b\n"
    out.rewind()
    assert out.getvalue() == b"a\n" * CHUNK


@pytest.mark.parametrize(("first", "out_type", "then"), [
    (b"a\n", io.BytesIO, True),     # the writer cannot rewind
    (b"a", Rewinding, True),        # the first source does not end a line
    (b"", Rewinding, True),         # nor when it is empty
    (b"a\n", Rewinding, False),     # nothing named to follow
])
def test_does_not_go_on(first: bytes, out_type: type[io.BytesIO], then: bool) -> None:
    out = out_type()
    copy = BackgroundCopy(lambda: io.BytesIO(first), out)
    if then:
        copy.then(lambda: io.BytesIO(b"b\n"))
    assert copy.result() == first[-1:]
    assert not copy.continued
    assert out.getvalue() == first


def test_cancel_while_waiting_for_what_follows() -> None:
    out = Rewinding()
    copy = BackgroundCopy(lambda: io.BytesIO(b"a\n"), out)
    copy.cancel()  # then() never called: the thread is not left waiting
    assert not copy.continued
    assert not [t for t in threading.enumerate() if t.name == "copy"]
