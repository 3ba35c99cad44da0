"""The row hashes in C (`native`): the values NumPy's rowhash gives, and the sets built on them."""

from __future__ import annotations

import os
import subprocess
import sys
from array import array

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from branchml.core import native, rowhash

pytestmark = pytest.mark.skipif(os.environ.get("BRANCHML_NATIVE") == "0",
                                reason="BRANCHML_NATIVE=0 turns the C row hashes off")

row = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"").rstrip(b"\r"))
SEED = native.SEED


def test_one_key_per_process() -> None:
    assert int(rowhash._SEED) == native.SEED  # hashes of the two codes may be compared


def test_the_install_built_the_library() -> None:
    # `make` installs a C compiler and the install compiles _rowhash.c: a machine where it is
    # missing would quietly run the slower NumPy path
    assert native.available()


@settings(max_examples=300, deadline=None)
@given(st.lists(row, max_size=60), st.lists(st.booleans(), max_size=60),
       st.binary(max_size=9).map(lambda b: b.replace(b"\n", b"")))
def test_the_same_hashes_as_numpy(rows: list[bytes], crlf: list[bool], tail: bytes) -> None:
    ends = [b"\r\n" if i < len(crlf) and crlf[i] else b"\n" for i in range(len(rows))]
    raw = b"".join(r + e for r, e in zip(rows, ends, strict=True)) + tail  # tail: no record
    expected = rowhash.hash_lines(raw).view(np.uint64).tolist()
    assert native.hash_lines(raw, SEED).tolist() == expected
    assert native.hash_rows(rows, SEED).tolist() == expected
    assert rowhash.hash_rows(rows).view(np.uint64).tolist() == expected


def test_rows_shorter_than_the_first_guess_and_rows_at_the_end_of_the_buffer() -> None:
    raw = b"\n" * 5000 + b"a\n" * 3000 + b"1234567\n"  # 16 bytes a row are guessed first
    expected = rowhash.hash_lines(raw).view(np.uint64).tolist()
    assert native.hash_lines(raw, SEED).tolist() == expected
    assert len(expected) == 8001
    assert native.hash_lines(b"no newline", SEED).tolist() == []
    assert native.hash_lines(b"", SEED).tolist() == []


def test_table_grows_and_answers_like_a_set() -> None:
    t = native.Table()
    values = array("Q", range(0, 300_000, 3))  # 0 and every 3rd number: 0 is stored as 1
    t.add(values)
    t.add(values[:10])  # again: not counted twice
    assert len(t) == len(values)
    probe = array("Q", range(12))
    # 1 shares 0's slot: a false hit, as any hash collision is (rows found by hash are
    # compared byte for byte afterwards)
    assert t.found(probe).tolist() == [0, 1, 3, 6, 9]
    assert t.hits(array("Q", [2, 4, 5])) is None
    assert native.Table().hits(probe) is None


H = st.integers(1, 2**64 - 1)  # not 0: it shares 1's slot (see the test above)


@settings(max_examples=60, deadline=None)
@given(st.sets(H, max_size=300), st.lists(st.sets(H, max_size=100), max_size=4))
def test_shared_is_the_intersection(ours: set[int], theirs: list[set[int]]) -> None:
    every = set().union(*theirs)
    shared = native.shared(array("Q", ours), [array("Q", t) for t in theirs])
    assert set(shared.found(array("Q", ours | every)).tolist()) == ours & every


def test_a_library_of_another_version_or_turned_off_is_not_used(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "_ABI", native._ABI + 1)
    assert native._load() is None
    code = "from branchml.core import native; print(native.available())"
    off = subprocess.run([sys.executable, "-c", code], env={**os.environ, "BRANCHML_NATIVE": "0"},
                         capture_output=True, text=True, check=True)
    assert off.stdout.strip() == "False"
