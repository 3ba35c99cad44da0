"""What every benchmark sets up: an isolated HOME with a git identity, branchml first on
PATH, byte-code used as after `pip install`, and a scratch folder removed at the end."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent
BML = str(BIN / "branchml")


@contextmanager
def isolated(name: str) -> Iterator[Path]:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    home = Path(tempfile.mkdtemp(prefix="bml-bench-home-"))
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Bench\n\temail = b@example.com\n[init]\n\tdefaultBranch = main\n")
    os.environ.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1",
                      PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    root = Path(tempfile.mkdtemp(prefix=f"bml-bench-{name}-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
