"""The two files `split rows` writes, without following links: the rows file `-o FILE` and the
request record `tracking/splits.jsonl` of the working tree.

A committed symlink is data a pusher chose (the hooks let code and tracking hold links), so
following one would copy a file outside the repository into the records that get pushed, or
write the records outside it. Every component under the repository root is opened relative to
its parent's descriptor with O_NOFOLLOW; `-o` writes only a regular file or a new name, and
the rename over it never replaces a link, a FIFO or a device node."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from branchml.errors import UsageError

NOFOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def check_target(out_file: Path) -> None:
    """Refuse an `-o` that is not a regular file or a new name in an existing folder."""
    if not out_file.parent.is_dir():
        raise UsageError(f"-o {out_file}: the folder {out_file.parent} does not exist.")
    try:
        st = out_file.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise UsageError(f"-o {out_file} is a symbolic link; split rows never writes through "
                         "a link: name the file itself.")
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"-o {out_file} is a folder; name the file to write.")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"-o {out_file} is not a regular file (a FIFO, socket or device); "
                         "name a regular file, which split rows replaces whole.")


def write_whole(out_file: Path, write: Callable[[BinaryIO], object]) -> None:
    """Never a half-written FILE: `write` fills a new file beside it (O_EXCL, so a name planted
    there is never followed), renamed over it once complete."""
    check_target(out_file)  # again, just before: the rename must replace only a regular file
    tmp = out_file.with_name(f".{out_file.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, out_file)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def _folder(root: Path, parts: list[str], create: bool) -> Iterator[int]:
    """A descriptor of root/parts..., each component opened (or made) relative to its parent
    and never through a link."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        for part in parts:
            if create:
                with suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            try:
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | NOFOLLOW, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _linked(part) from None
                raise
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _linked(path: str) -> UsageError:
    return UsageError(f"{path} in the working tree is a symbolic link (or not a plain file or "
                      "folder): split rows never follows links there; replace it with a plain "
                      "one (git rm it) and run again.")


def read_records(root: Path, relative: str) -> bytes:
    """The record file's bytes (b"" when there is none), read without following a link."""
    *parts, name = relative.split("/")
    try:
        with _folder(root, parts, create=False) as dfd:
            fd = _open_plain(name, relative, dfd)
    except FileNotFoundError:
        return b""
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _open_plain(name: str, relative: str, dfd: int) -> int:
    try:
        fd = os.open(name, os.O_RDONLY | NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _linked(relative) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _linked(relative)
    return fd


def write_records(root: Path, relative: str, data: bytes) -> None:
    """The record file replaced whole by `data`, its folders made, nothing followed."""
    *parts, name = relative.split("/")
    with _folder(root, parts, create=True) as dfd:
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                raise _linked(relative)
        except FileNotFoundError:
            pass
        tmp = f".{name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o644, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            os.unlink(tmp, dir_fd=dfd)
            raise
