"""Main's files at the trusted ref, written into a temporary folder for validators to run in.

A `validate:` command such as `["python3", "validators/check.py"]` names files by relative
path. Run in the working tree, it would run whatever the checked-out branch holds there (a
dev branch's script, say); run in this folder, it can only reach the trusted main's files.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from branchml.core.lfs_pointer import MAX_POINTER_SIZE, parse_pointer
from branchml.core.paths import refused_part

_FILE, _EXECUTABLE = 0o100644, 0o100755


class TrustedFiles:
    """Materialised on first use, removed by `cleanup()` (or when dropped, or at exit)."""

    def __init__(self, pg: Any, commit: str | None, tmp_root: Path) -> None:
        self.pg = pg
        self.commit = commit
        self.tmp_root = tmp_root
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def path(self) -> Path:
        if self._dir is None:
            self.tmp_root.mkdir(parents=True, exist_ok=True)
            self._dir = tempfile.TemporaryDirectory(dir=self.tmp_root, prefix="trusted-")
            if self.commit is not None:
                _write_tree(self.pg, self.pg[self.commit].tree, Path(self._dir.name))
        return Path(self._dir.name)

    def cleanup(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def _write_tree(pg: Any, tree: Any, dest: Path) -> None:
    """Plain files only: links and gitlinks are left out (a link could point anywhere), and
    so are git-lfs files (data, not code); a name git refuses is never written."""
    for entry in tree:
        if refused_part(entry.name) is not None or "/" in entry.name:
            continue
        target = dest / entry.name
        if entry.type_str == "tree":
            target.mkdir()
            _write_tree(pg, pg[entry.id], target)
        elif entry.type_str == "blob" and entry.filemode in (_FILE, _EXECUTABLE):
            data = pg[entry.id].data
            if len(data) <= MAX_POINTER_SIZE and parse_pointer(data) is not None:
                continue
            target.write_bytes(data)
            target.chmod(0o755 if entry.filemode == _EXECUTABLE else 0o644)
