"""LFS objects judged against their pointers: which blobs are pointers, whether a store holds
each pointer's object byte for byte, and a server's record of the objects it has verified.

A record `<common git dir>/branchml/lfs-verified/aa/<oid>` (for objects of 1 MiB and more)
holds the identity of the object file whose whole content was hashed to `<oid>`: device,
inode, size, mtime and ctime (ns).
A later push that names the same oid skips the hash while the file still has that identity.
Any rewrite in place (giftless writes objects in place) changes mtime and ctime, a
replacement by rename changes the inode, and ctime cannot be set by a user, so a replaced
object is hashed again. What is not covered: a file rewritten while the clock is set back by
someone with root on the server, and an object replaced after the push was accepted (no
hook runs then; `branchml verify` on a clone, or git-lfs's own download check, finds it).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from branchml.core.lfs_pointer import MAX_POINTER_SIZE, LfsPointer, parse_pointer
from branchml.repo import lfs, proc
from branchml.repo.lfs import ObjectState

RECORDS = Path("branchml") / "lfs-verified"
# Below this size an object is hashed on every push that names it: that costs less than
# keeping its record (measured here: 20,000 records written in 3.5 s, 20,000 small objects
# hashed in 0.35 s).
RECORD_MIN = 1 << 20
Identity = tuple[int, int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns


class Hashed(NamedTuple):
    """An object file read whole: its state against the pointer, the SHA-256 of its first
    `prefix` bytes (when asked and there were that many), and the identity of the file read
    (None when it changed while being read, or was not read)."""

    state: ObjectState
    prefix_sha256: str | None = None
    identity: Identity | None = None


def _identity(info: os.stat_result) -> Identity:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def hash_object(common_dir: Path, pointer: LfsPointer, prefix: int | None = None) -> Hashed:
    """Read the object's file once, through one 1 MiB buffer (bounded memory): its SHA-256
    against the oid and, for a growth check, the SHA-256 of its first `prefix` bytes."""
    try:  # O_NONBLOCK: a FIFO put in an object's place must not hang the reader
        fd = os.open(lfs.object_file(common_dir, pointer), os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return Hashed(ObjectState("missing", None, None))
    except OSError:
        return Hashed(ObjectState("unreadable", None, None))
    with os.fdopen(fd, "rb") as f:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):  # a directory, a FIFO, a device
            return Hashed(ObjectState("unreadable", None, None))
        if before.st_size != pointer.size:  # its bytes cannot be the pointer's
            return Hashed(ObjectState("size", before.st_size, None))
        try:
            size, whole, head = _stream(f, prefix)
        except OSError:
            return Hashed(ObjectState("unreadable", None, None))
        same = _identity(os.fstat(fd)) == _identity(before)
    if size != pointer.size or not same:  # written to while it was read: trust nothing
        return Hashed(ObjectState("size" if size != pointer.size else "changed", size, None))
    problem = None if whole == pointer.oid else "content"
    return Hashed(ObjectState(problem, size, whole), head, _identity(before))


def _stream(f: object, prefix: int | None) -> tuple[int, str, str | None]:
    """(bytes read, SHA-256 of all, SHA-256 of the first `prefix` bytes or None)."""
    h, buf = hashlib.sha256(), bytearray(lfs.CHUNK)
    view, size, head = memoryview(buf), 0, None
    if prefix == 0:
        head = h.hexdigest()
    while n := f.readinto(buf):  # type: ignore[attr-defined]
        if prefix is not None and size < prefix <= size + n:
            h.update(view[:prefix - size])
            head = h.hexdigest()  # the state at the boundary, then the rest of the bytes
            h.update(view[prefix - size:n])
        else:
            h.update(view[:n])
        size += n
    return size, h.hexdigest(), head


def present(common_dir: Path, pointer: LfsPointer) -> ObjectState:
    """A client's cheap look: the object's file is there with the pointer's size (git-lfs
    hashed it when it stored it; the server hashes it again when it arrives)."""
    try:
        info = os.stat(lfs.object_file(common_dir, pointer))
    except FileNotFoundError:
        return ObjectState("missing", None, None)
    except OSError:
        return ObjectState("unreadable", None, None)
    if not stat.S_ISREG(info.st_mode):
        return ObjectState("unreadable", None, None)
    if info.st_size != pointer.size:
        return ObjectState("size", info.st_size, None)
    return ObjectState(None, info.st_size, None)


def _record(common_dir: Path, oid: str) -> Path:
    return common_dir / RECORDS / oid[:2] / oid


def verified(common_dir: Path, pointer: LfsPointer) -> ObjectState:
    """A server's judgement of the object: by its record when the file is the very file
    hashed before, else hashed whole (and the record written, or removed when it fails)."""
    if pointer.size < RECORD_MIN:
        return hash_object(common_dir, pointer).state
    try:
        info = os.stat(lfs.object_file(common_dir, pointer))
        known = _record(common_dir, pointer.oid).read_text().split()
    except OSError:
        known = []
    else:
        if (stat.S_ISREG(info.st_mode) and info.st_size == pointer.size
                and known == [str(n) for n in _identity(info)]):
            return ObjectState(None, info.st_size, pointer.oid)
    return remember(common_dir, pointer, hash_object(common_dir, pointer))


def remember(common_dir: Path, pointer: LfsPointer, hashed: Hashed) -> ObjectState:
    """Keep (or drop) the record of an object just hashed; best effort: a server whose git
    dir is read-only only hashes again next time."""
    if pointer.size < RECORD_MIN:
        return hashed.state
    record = _record(common_dir, pointer.oid)
    try:
        if hashed.state.problem is not None or hashed.identity is None:
            record.unlink(missing_ok=True)
        else:
            record.parent.mkdir(parents=True, exist_ok=True)
            tmp = record.with_name(f".{pointer.oid}.{os.getpid()}")
            tmp.write_text(" ".join(map(str, hashed.identity)) + "\n")
            os.replace(tmp, record)  # readers see the old record or the new, never half
    except OSError:
        pass
    return hashed.state


def pointers_among(cwd: Path, blobs: Iterable[str]) -> dict[str, LfsPointer]:
    """Which of these blob ids are git-lfs pointers: their sizes in one `cat-file
    --batch-check`, then the small ones read in one `cat-file --batch` (two processes
    whatever the count: a push of 20,000 files asks git twice, not 20,000 times)."""
    ids = [b for b in dict.fromkeys(blobs) if b and set(b) != {"0"}]
    if not ids:
        return {}
    checked = proc.run(["git", "cat-file", "--batch-check=%(objectname) %(objecttype) "
                        "%(objectsize)"], cwd=cwd, stdin=_lines(ids)).stdout.split(b"\n")
    small = [parts[0].decode() for parts in (ln.split() for ln in checked)
             if len(parts) == 3 and parts[1] == b"blob" and int(parts[2]) <= MAX_POINTER_SIZE]
    if not small:
        return {}
    out = proc.run(["git", "cat-file", "--batch"], cwd=cwd, stdin=_lines(small)).stdout
    found: dict[str, LfsPointer] = {}
    at = 0
    while at < len(out):
        end = out.index(b"\n", at)
        oid, _, size = out[at:end].decode().split()
        data = out[end + 1:end + 1 + int(size)]
        at = end + 2 + int(size)  # the content, then a newline
        pointer = parse_pointer(data)
        if pointer is not None:
            found[oid] = pointer
    return found


def _lines(ids: list[str]) -> bytes:
    return ("\n".join(ids) + "\n").encode()


def reachable(cwd: Path, tips: Iterable[str], wanted: set[str]) -> set[str]:
    """Which of the `wanted` object ids some commit of `tips` holds, by one `rev-list
    --objects` walk that stops as soon as all are found."""
    tips = list(dict.fromkeys(tips))
    if not tips or not wanted:
        return set()
    args = ["git", "rev-list", "--objects", "--no-object-names", "--ignore-missing", *tips,
            "--"]  # (a tip of the remote this clone never fetched is skipped)
    p = proc.popen(args, cwd=cwd, stdin=False)
    assert p.stdout is not None
    found: set[str] = set()
    try:
        for line in p.stdout:
            oid = line.strip().decode()
            if oid in wanted:
                found.add(oid)
                if found == wanted:
                    break
    finally:  # stopped early: no git process left behind
        if p.poll() is None:
            p.kill()
        p.wait()
        for pipe in (p.stdout, p.stderr):
            if pipe:
                pipe.close()
    return found
