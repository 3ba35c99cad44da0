"""Loose blobs written by branchml itself: git reads them, names them alike, fsck is clean."""

from __future__ import annotations

import os
import subprocess
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from branchml.repo import looseobj
from branchml.repo.lfs import _Sha256Thread


def git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True,
                          check=True).stdout


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    repo = tmp_path / "r.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    return repo


B = looseobj.BLOCK


@pytest.mark.parametrize("size", [0, 1, B - 1, B, B + 1, 3 * B + 5])
@pytest.mark.parametrize("level", [0, 1, 6, 9, -1])
def test_git_reads_what_the_writer_wrote(bare: Path, size: int, level: int) -> None:
    data = (os.urandom(size // 2) + b"row,%d\n" * (size // 14 + 1))[:size]
    w = looseobj.LooseBlobWriter(bare, level)
    for i in range(0, len(data), 100_003):  # writes that straddle blocks
        w.write(data[i:i + 100_003])
    oid = w.finish()
    assert oid == git(bare, "hash-object", "--stdin", data=data).decode().strip()
    assert git(bare, "cat-file", "blob", oid) == data
    obj = bare / "objects" / oid[:2] / oid[2:]
    assert oct(obj.stat().st_mode & 0o777) == oct(0o444)
    raw = obj.read_bytes()
    assert zlib.decompress(raw) == b"blob %d\0" % size + data  # one zlib stream, Adler-32 ok
    assert not [p for p in (bare / "objects").rglob("tmp_obj_*")]
    git(bare, "fsck", "--strict", "--no-dangling")


def test_an_existing_object_is_kept_and_an_abort_leaves_nothing(bare: Path) -> None:
    data = b"a,b\n" * 300_000
    first = looseobj.LooseBlobWriter(bare)
    first.write(data)
    oid = first.finish()
    again = looseobj.LooseBlobWriter(bare)
    again.write(data)
    assert again.finish() == oid
    aborted = looseobj.LooseBlobWriter(bare)
    aborted.write(data + b"more\n")
    aborted.abort()
    assert [p.name for p in (bare / "objects").iterdir() if p.is_file()] == []
    git(bare, "fsck", "--strict", "--no-dangling")


def test_only_used_where_it_is_exact(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert looseobj.usable(bare, None)
    assert not looseobj.usable(bare, "sha256")
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(bare / "objects"))
    assert not looseobj.usable(bare, None)


@given(st.binary(max_size=300), st.binary(max_size=300))
def test_adler32_combine(a: bytes, b: bytes) -> None:
    combined = looseobj.adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b))
    assert combined == zlib.adler32(a + b)


@pytest.mark.parametrize("level", [-1, 0, 1, 2, 5, 6, 7, 9])
def test_zlib_header_is_what_zlib_writes(level: int) -> None:
    assert looseobj.zlib_header(level) == zlib.compress(b"x", level)[:2]


@pytest.mark.parametrize("sizes", [[10] * 1000, [3 << 20], [5, 2 << 20, 7, 1 << 20], []])
def test_sha256_on_a_thread_matches_hashlib(sizes: list[int]) -> None:
    import hashlib

    h, ref = _Sha256Thread(), hashlib.sha256()
    for n in sizes:
        chunk = os.urandom(n)
        h.update(chunk)
        ref.update(chunk)
    assert h.hexdigest() == ref.hexdigest()
    assert h.hexdigest() == ref.hexdigest()  # asking twice is fine


@given(before=st.lists(st.binary(max_size=300_000), max_size=3),
       dropped=st.lists(st.binary(max_size=300_000), max_size=3),
       after=st.lists(st.binary(max_size=300_000), max_size=3))
def test_lfs_writer_rewound_to_its_mark_is_as_if_never_written(
        tmp_path_factory: pytest.TempPathFactory, before: list[bytes], dropped: list[bytes],
        after: list[bytes]) -> None:
    """What the append copy writes speculatively and then drops leaves no trace: object
    bytes, size and SHA-256 are those of what was kept."""
    import hashlib

    from branchml.repo.lfs import ObjectWriter, object_file

    common = tmp_path_factory.mktemp("git")
    w = ObjectWriter(common)
    for part in before:
        w.write(part)
    w.mark()
    for part in dropped:
        w.write(part)
    w.rewind()
    for part in after:
        w.write(part)
    kept = b"".join(before + after)
    pointer = w.finish()
    assert (pointer.oid, pointer.size) == (hashlib.sha256(kept).hexdigest(), len(kept))
    assert object_file(common, pointer).read_bytes() == kept
