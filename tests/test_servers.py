"""End to end over real servers on 127.0.0.1: nginx + git http-backend + giftless
(tests/servers.py). Two clones stand for two users of one branchml project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import git, git_proc

pytestmark = pytest.mark.slow

# git-lfs's filters for one clone, set before its checkout (never in the shared test HOME)
LFS_CLONE = ("-c", "filter.lfs.clean=git-lfs clean -- %f",
             "-c", "filter.lfs.smudge=git-lfs smudge -- %f",
             "-c", "filter.lfs.process=git-lfs filter-process", "-c", "filter.lfs.required=true")


def test_smoke_lfs_push_and_clone_over_http(http_server, tmp_path: Path) -> None:
    _, url = http_server.bare("smoke")
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    git("lfs", "install", "--local", cwd=work)
    git("lfs", "track", "*.bin", cwd=work)
    payload = os.urandom(1_000_000)
    (work / "model.bin").write_bytes(payload)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "model", cwd=work)
    git("push", "-q", url, "main", cwd=work)
    oid = git("lfs", "ls-files", "-l", cwd=work).split()[0]
    assert http_server.lfs_objects("smoke") == [oid]
    clone = tmp_path / "clone"
    p = git_proc("clone", "-q", *LFS_CLONE, url, str(clone), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (clone / "model.bin").read_bytes() == payload
