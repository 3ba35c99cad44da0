"""git-lfs beside git: where objects live, whether the tool is here, how filters get set."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from branchml import proc
from branchml.core.lfs_pointer import LfsPointer
from branchml.errors import ToolMissing

CHUNK = 1 << 20


def available() -> bool:
    return shutil.which("git-lfs") is not None


def require() -> None:
    if not available():
        raise ToolMissing(
            "git-lfs is not installed or not on PATH: install it (apt-get install -y git-lfs), "
            "or pass --no-lfs to keep data and models as plain git blobs."
        )


def object_file(common_dir: Path, pointer: LfsPointer) -> Path:
    return common_dir / "lfs" / "objects" / pointer.object_path


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
