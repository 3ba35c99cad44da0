"""Row hashes over raw bytes: the same row hashes the same wherever it sits."""

from __future__ import annotations

import numpy as np
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
