from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from branchml.core.growth import git_prefix_matches, lfs_prefix_matches
from branchml.core.lfs_pointer import LfsPointer, parse_pointer


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def chunks(data: bytes, size: int = 3) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


@given(st.binary(max_size=200), st.binary(max_size=200))
def test_git_prefix_true_when_appended(old: bytes, extra: bytes) -> None:
    assert git_prefix_matches(blob_id(old), len(old), chunks(old + extra))


@given(st.binary(min_size=1, max_size=200), st.binary(max_size=50))
def test_git_prefix_false_when_first_byte_changes(old: bytes, extra: bytes) -> None:
    edited = bytes([old[0] ^ 1]) + old[1:] + extra
    assert not git_prefix_matches(blob_id(old), len(old), chunks(edited))


def test_git_prefix_false_when_shorter() -> None:
    assert not git_prefix_matches(blob_id(b"abcdef"), 6, [b"abc"])


def test_git_prefix_sha256_repos() -> None:
    old = b"row1\n"
    oid = hashlib.sha256(b"blob 5\0" + old).hexdigest()
    assert git_prefix_matches(oid, 5, [old, b"row2\n"], "sha256")


@given(st.binary(max_size=200), st.binary(max_size=200))
def test_lfs_prefix(old: bytes, extra: bytes) -> None:
    oid = hashlib.sha256(old).hexdigest()
    assert lfs_prefix_matches(oid, len(old), chunks(old + extra, 7))


def test_pointer_round_trip() -> None:
    p = LfsPointer("a" * 64, 12)
    assert parse_pointer(p.render()) == p
    assert p.object_path == "aa/aa/" + "a" * 64


def test_pointer_rejects_other_text() -> None:
    assert parse_pointer(b"hello\n") is None
    assert parse_pointer(b"x" * 2000) is None
    assert parse_pointer(LfsPointer("a" * 64, 1).render() + b"junk\n") is None
