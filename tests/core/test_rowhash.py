"""Row hashes over raw bytes: the same row hashes the same wherever it sits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from branchml.core import rowhash

rows_st = st.lists(st.binary(max_size=90).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")),
                   max_size=40)


@settings(max_examples=200, deadline=None)
@given(rows_st, st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")))
def test_lines_and_rows_agree_whatever_the_offset(rows: list[bytes], prefix: bytes) -> None:
    raw = b"".join(r + b"\n" for r in rows)
    crlf = b"".join(r + b"\r\n" for r in rows)
    expected = rowhash.hash_rows(rows)
    assert np.array_equal(rowhash.hash_lines(raw), expected)
    assert np.array_equal(rowhash.hash_lines(crlf), expected)
    shifted = rowhash.hash_lines(prefix + b"\n" + raw)[1:]  # same rows, other byte offsets
    assert np.array_equal(shifted, expected)


def test_rows_that_differ_hash_differently() -> None:
    rows = [b"", b"a", b"a\0", b"\0a", b"ab", b"ba", b"12345678", b"123456789",
            b"12345678\0", b"x" * 64, b"x" * 65, b"x" * 63 + b"y"]
    found = rowhash.hash_rows(rows)
    assert len(set(found.tolist())) == len(rows)
    many = [str(i).encode() for i in range(200_000)]
    assert len(np.unique(rowhash.hash_rows(many))) == len(many)


def test_member_and_empty_inputs() -> None:
    known = np.sort(rowhash.hash_rows([b"a", b"b"]))
    probe = rowhash.hash_rows([b"b", b"c", b"a"])
    assert rowhash.member(probe, known).tolist() == [True, False, True]
    assert rowhash.member(probe, rowhash.EMPTY).tolist() == [False, False, False]
    assert len(rowhash.hash_lines(b"no newline")) == 0
    assert len(rowhash.hash_rows([])) == 0


def _reference(row: bytes) -> int:
    """The hash written out one row at a time, in plain Python (mod 2**64)."""
    m = 2**64 - 1
    k1, seed = int(rowhash._K1), int(rowhash._SEED)
    h = ((len(row) + k1) * seed) & m
    for k in range(0, max(len(row), 1), 8):
        w = int.from_bytes(row[k:k + 8], "little")
        h = ((h ^ w) * k1) & m
        h ^= h >> 29
    h ^= h >> 32
    return h - 2**64 if h >= 2**63 else h


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=30))
def test_vector_hash_equals_the_row_by_row_definition(rows: list[bytes]) -> None:
    # rows of mixed lengths leave the vector loop at different words
    assert rowhash.hash_rows(rows).tolist() == [_reference(r) for r in rows]


@settings(max_examples=100, deadline=None)
@given(st.sets(st.binary(max_size=12), max_size=60), st.lists(st.binary(max_size=12), max_size=60))
def test_hash_set_answers_like_a_set(known: set[bytes], probes: list[bytes]) -> None:
    rows = sorted(known)
    found = rowhash.HashSet(np.sort(rowhash.hash_rows(rows)))
    assert found.contains(rowhash.hash_rows(probes)).tolist() == [p in known for p in probes]
    assert all(int(h) in found for h in rowhash.hash_rows(rows))


def test_hash_set_of_many_and_of_none() -> None:
    many = np.sort(rowhash.hash_rows([str(i).encode() for i in range(300_000)]))
    found = rowhash.HashSet(many)
    others = rowhash.hash_rows([str(i).encode() for i in range(300_000, 400_000)])
    assert found.contains(many).all() and not found.contains(others).any()
    assert not rowhash.HashSet(rowhash.EMPTY).contains(others).any()
    assert len(found.contains(rowhash.EMPTY)) == 0


@pytest.mark.parametrize("caller", [None, "3"])
def test_numpy_is_imported_without_blas_threads_and_the_environment_is_kept(
        caller: str | None) -> None:
    """OpenBLAS would start a thread per core at import (rows need no BLAS); the setting
    a caller made, or its absence, is what child processes still see."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if caller:
        env["OPENBLAS_NUM_THREADS"] = caller
    code = ("import os; import branchml.core.rowhash; "
            "print(os.environ.get('OPENBLAS_NUM_THREADS'), len(os.listdir('/proc/self/task')))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == str(caller)
    if caller is None:
        assert out[1] == "1"  # no BLAS worker threads beside the main one
