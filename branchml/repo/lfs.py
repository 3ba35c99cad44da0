"""git-lfs beside git: where objects live, whether the tool is here, how filters get set."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from branchml.core.lfs_pointer import LfsPointer
from branchml.errors import StateError, ToolMissing
from branchml.repo import proc

CHUNK = 1 << 20


def available() -> bool:
    return shutil.which("git-lfs") is not None


def require() -> None:
    if not available():
        raise ToolMissing(
            "git-lfs is not installed or not on PATH: install it (apt-get install -y git-lfs), "
            "or pass --no-lfs to keep data and models as plain git blobs."
        )


class Store(NamedTuple):
    """git-lfs's storage directory of a repository, and the setting it comes from."""

    root: Path  # <root>/objects/aa/bb/<oid>, <root>/tmp
    setting: str | None  # the value of `lfs.storage`, or None when it is not set

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    def describe(self) -> str:
        """Which store and which setting, for a sentence that says an object is not there."""
        if self.setting is None:
            return f"{self.objects} (lfs.storage is not set)"
        return f"{self.objects} (git config lfs.storage = {self.setting})"


# keyed by the repository and its config file's mtime: a long-lived library caller that
# sets lfs.storage afterwards is not served the old store
_STORES: dict[tuple[Path, int], Store] = {}


def store(common_dir: Path) -> Store:
    """Where git-lfs keeps this repository's objects, as git-lfs itself resolves it: the
    `lfs.storage` setting (a relative path is taken inside the common git dir, `~` is not
    expanded), else `<common git dir>/lfs`. Read with one `git config` per repository and
    process (~2 ms), not `git lfs env` (~25 ms): the hooks call this. `.lfsconfig` is not read, as
    git-lfs ignores lfs.storage there (a pushed file cannot move the store)."""
    try:
        key = (common_dir, (common_dir / "config").stat().st_mtime_ns)
    except OSError:
        key = (common_dir, 0)
    found = _STORES.get(key)
    if found is None:
        r = proc.run(["git", f"--git-dir={common_dir}", "config", "--get", "lfs.storage"],
                     cwd=common_dir, check=False)
        value = r.stdout.decode("utf-8", errors="surrogateescape").rstrip("\n") \
            if r.returncode == 0 else ""
        # joined and cleaned lexically, as git-lfs does (Go's filepath.Join)
        found = (Store(Path(os.path.normpath(common_dir / value)), value) if value
                 else Store(common_dir / "lfs", None))
        _STORES[key] = found
    return found


# object folders a dry run reads besides a repository's own store (see `reading_also`)
_ALSO: list[Path] = []


@contextlib.contextmanager
def reading_also(*objects: Path) -> Iterator[None]:
    """While a dry run builds its objects in a scratch store, an object is found in either
    store, whichever repository asks: the real one's objects from the scratch side, the new
    ones from the real side (its checks read what the dry run made)."""
    _ALSO.extend(objects)
    try:
        yield
    finally:
        del _ALSO[-len(objects):]


def object_file(common_dir: Path, pointer: LfsPointer) -> Path:
    own = store(common_dir).objects / pointer.object_path
    if _ALSO and not own.is_file():  # only during a dry run
        for other in _ALSO:
            if (other / pointer.object_path).is_file():
                return other / pointer.object_path
    return own


def read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def install_filters(cwd: Path) -> None:
    """The clean/smudge filters in the repository's own config; hooks are branchml's to chain."""
    require()
    proc.run(["git", "lfs", "install", "--local", "--skip-repo"], cwd=cwd)


def filters_installed(cwd: Path) -> bool:
    r = proc.run(["git", "config", "--local", "--get", "filter.lfs.process"], cwd=cwd, check=False)
    return r.returncode == 0


class ObjectWriter:
    """Writes a new LFS object in git-lfs's own layout: a temp file under <store>/tmp,
    counted as it is written and hashed (SHA-256) on a worker thread meanwhile, renamed to
    <store>/objects/aa/bb/<oid> when complete. `mark()` / `rewind()`: drop what was written
    after the mark (file, size and hash alike)."""

    def __init__(self, common_dir: Path) -> None:
        import tempfile

        self.common_dir = common_dir
        tmp_dir = store(common_dir).root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="branchml-")
        self.tmp = Path(name)
        self.f = os.fdopen(fd, "wb")
        self.digest = _Sha256Thread()
        self.size = 0
        self._marked = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.f.write(data)

    def mark(self) -> None:
        self.digest.mark()
        self._marked = self.size

    def rewind(self) -> None:
        self.digest.rewind()
        self.f.seek(self._marked)
        self.f.truncate()
        self.size = self._marked

    def finish(self) -> LfsPointer:
        self.f.close()
        pointer = LfsPointer(self.digest.hexdigest(), self.size)
        target = object_file(self.common_dir, pointer)
        if target.is_file():
            self.tmp.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp, target)
        return pointer

    def abort(self) -> None:
        self.digest.hexdigest()
        self.f.close()
        self.tmp.unlink(missing_ok=True)


class _Mark:
    """Queued by `mark()`: the hash state at that point in the stream is kept."""


class _Sha256Thread:
    """SHA-256 of what is written, computed on a worker thread (hashlib releases the GIL on
    big buffers) so hashing overlaps the merge's own work. Small writes are gathered into
    256 KiB blocks; at most two blocks wait, so memory stays bounded. `mark()` keeps the
    state at that point; `rewind()` goes back to it."""

    BLOCK = 1 << 18

    def __init__(self) -> None:
        import hashlib

        self.h = hashlib.sha256()
        self.saved = self.h
        self._start()

    def _start(self) -> None:
        import queue
        import threading

        self.q: queue.Queue[bytes | _Mark | None] = queue.Queue(maxsize=2)
        self.buf = bytearray()
        self.thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (block := self.q.get()) is not None:
            if isinstance(block, _Mark):
                self.saved = self.h.copy()
            else:
                self.h.update(block)

    def update(self, data: bytes) -> None:
        if len(data) >= self.BLOCK and not self.buf:
            self.q.put(data)
            return
        self.buf += data
        if len(self.buf) >= self.BLOCK:
            self.q.put(bytes(self.buf))
            self.buf.clear()

    def mark(self) -> None:
        self._flush()
        self.q.put(_Mark())

    def rewind(self) -> None:
        self.buf.clear()
        self._stop()
        self.h = self.saved.copy()
        self._start()

    def _flush(self) -> None:
        if self.buf:
            self.q.put(bytes(self.buf))
            self.buf.clear()

    def _stop(self) -> None:
        if self.thread.is_alive():
            self.q.put(None)
            self.thread.join()

    def hexdigest(self) -> str:
        if self.thread.is_alive():
            self._flush()
            self._stop()
        return self.h.hexdigest()


def open_object(common_dir: Path, cwd: Path, pointer: LfsPointer, path: str) -> BinaryIO:
    """The content of an LFS object; fetched with git-lfs when it is not in the local store."""
    return local_object(common_dir, cwd, pointer, path).open("rb")


def local_object(common_dir: Path, cwd: Path, pointer: LfsPointer, path: str) -> Path:
    """Where an LFS object's content is; fetched from the remote when it is not in the local
    store (a clone holds only its checked-out branch's objects)."""
    obj = object_file(common_dir, pointer)
    if not ensure_local(common_dir, cwd, pointer, path):
        raise StateError(
            f"{path}: its git-lfs object {pointer.oid[:12]} is not in the local store and could "
            f"not be fetched (the store read is {store(common_dir).describe()}); run `git lfs "
            "fetch origin BRANCH` for the branch that holds it (or push it from where it was "
            "made), then run the command again."
        )
    return obj


def ensure_local(common_dir: Path, cwd: Path, pointer: LfsPointer, path: str) -> bool:
    """Whether the object is in the local store, fetched from the remote when it was not."""
    obj = object_file(common_dir, pointer)
    if not obj.is_file() and available():
        fetch_object(cwd, pointer, path)
    return obj.is_file()


def fetch_missing(common_dir: Path, cwd: Path, commit: str,
                  pointers: Iterable[LfsPointer]) -> None:
    """Best effort, for a command about one commit (`verify`): when any of its objects is not
    here, that commit's objects in one `git lfs fetch` from the default remote (origin, else
    the only one); the caller still reports what remains missing."""
    if not available() or all(object_file(common_dir, p).is_file() for p in pointers):
        return
    names = proc.run(["git", "remote"], cwd=cwd, check=False).stdout.decode().split()
    name = "origin" if "origin" in names else names[0] if len(names) == 1 else None
    if name is not None:
        fetch_commit(cwd, name, commit)


def fetch_object(cwd: Path, pointer: LfsPointer, path: str) -> bool:
    """Exactly one object from the remote git-lfs uses here: `git lfs smudge` downloads it into
    the local store (checking its SHA-256) and its copy on stdout is dropped. `git lfs fetch
    --include PATH` would look for PATH in HEAD's tree, not in the branch being merged."""
    from branchml.repo.remote import ENV

    r = proc.run(["git", "lfs", "smudge", "--", path], cwd=cwd, env=ENV,
                 stdin=pointer.render(), check=False, discard_stdout=True)
    return r.returncode == 0


def fetch_commit(cwd: Path, remote: str, commit: str) -> tuple[bool, str]:
    """Every LFS object of one commit's tree (no history) from `remote`, in one batch: what a
    command about that commit (a release's `verify`, a clone's checkout) needs.
    Returns (done, git-lfs's last line of complaint)."""
    from branchml.repo.remote import ENV

    r = proc.run(["git", "lfs", "fetch", "--", remote, commit], cwd=cwd, env=ENV, check=False)
    text = r.stderr.decode("utf-8", errors="replace")
    said = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")
    return r.returncode == 0, said


class ObjectState(NamedTuple):
    """What an LFS object's file holds, against its pointer."""

    problem: str | None  # None (its bytes are the pointer's), missing, unreadable, size, content
    size: int | None  # the file's size (None: no file to read)
    sha256: str | None  # its SHA-256, when it was computed (not on a size mismatch)


def object_state(common_dir: Path, pointer: LfsPointer) -> ObjectState:
    """Recompute an object's size and SHA-256 from its file in the store: streamed through one
    1 MiB buffer (bounded memory whatever the size); hashlib releases the GIL meanwhile, so
    several objects can be hashed on threads at once."""
    import hashlib
    import stat

    try:  # O_NONBLOCK: a FIFO put in an object's place must not hang the reader
        fd = os.open(object_file(common_dir, pointer), os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return ObjectState("missing", None, None)
    except OSError:
        return ObjectState("unreadable", None, None)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # a directory, a FIFO, a device
        os.close(fd)
        return ObjectState("unreadable", None, None)
    with os.fdopen(fd, "rb") as f:
        size = info.st_size
        if size != pointer.size:  # no need to read the bytes: they cannot be the pointer's
            return ObjectState("size", size, None)
        h, buf = hashlib.sha256(), bytearray(CHUNK)
        view, size = memoryview(buf), 0
        try:
            while n := f.readinto(buf):
                h.update(view[:n])
                size += n
        except OSError:
            return ObjectState("unreadable", size, None)
    digest = h.hexdigest()
    if size != pointer.size:
        return ObjectState("size", size, None)
    return ObjectState(None if digest == pointer.oid else "content", size, digest)
