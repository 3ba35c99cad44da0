"""`branchml graph -o FILE`: the format from FILE's extension (unless `--format` says), the
text written whole or not at all (a temporary file beside it, then a rename), an image drawn
by Graphviz's `dot` from the dot text (argv, never a shell). FILE is refused inside `.git`
(a graph must not land among git's own files, e.g. as a hook), when it is a folder, and when
it is not a regular file (or a link to one in the repository) or lies under /dev, /proc,
/sys (ops/outfile.py: a rename would replace a device link or a named pipe)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from branchml.core.graphrender import FORMATS
from branchml.errors import StateError, UsageError
from branchml.ops import outfile
from branchml.repo import proc
from branchml.repo.reader import Git

BY_EXTENSION = {".mmd": "mermaid", ".mermaid": "mermaid", ".dot": "dot", ".gv": "dot",
                ".txt": "text"}
IMAGES = (".svg", ".png")
NO_GRAPHVIZ = "Graphviz is not installed: apt-get install -y graphviz (or write .dot/.mmd)."


def file_format(file: Path, fmt: str | None) -> str:
    """What FILE holds: a text format of FORMATS, or `svg`/`png` (drawn from dot)."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format {fmt} is not one of {', '.join(FORMATS)}.")
    ext = file.suffix.lower()
    if ext in IMAGES:
        if fmt not in (None, "dot"):
            raise UsageError(f"{file.name} is an image, which Graphviz draws from dot: drop "
                             f"--format {fmt}, or name the file .mmd, .dot or .txt.")
        return ext[1:]
    found = fmt or BY_EXTENSION.get(ext)
    if found is None:
        raise UsageError(f"{file.name}: name the file .mmd, .dot, .txt, .svg or .png, or give "
                         "--format, so the graph's format is known.")
    return found


def target(repo: Path, file: Path) -> Path:
    """FILE (relative to `repo`) as an absolute path, refused inside the repository's git
    folder or any `.git`, when it is a folder, or when its folder does not exist."""
    path = file if file.is_absolute() else repo / file
    try:
        path.is_dir()
    except OSError as e:  # a name too long for the file system
        raise UsageError(f"{file}: {e.strerror or e}: name another file.") from None
    if path.is_dir():
        raise UsageError(f"{file} is a folder: name a file to write the graph to.")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent} does not exist: create it, or write the graph "
                         "elsewhere.")
    real = path.parent.resolve() / path.name  # links in its folders followed, as git would
    layout = Git(repo).layout
    git_dirs = {layout.git_dir.resolve(), layout.common_dir.resolve()}
    if ".git" in real.parts or any(real.is_relative_to(d) for d in git_dirs):
        raise UsageError(f"{file} is inside the repository's .git folder, where git keeps its "
                         "own files: write the graph elsewhere.")
    # the graph is renamed over FILE: never over a device link, a named pipe or a socket
    outfile.check_replaceable(real, str(file), repo)
    return real


def require_dot() -> str:
    """Graphviz's `dot` on PATH; StateError (exit 4) saying how to install it."""
    dot = shutil.which("dot")
    if dot is None:
        raise StateError(NO_GRAPHVIZ)
    return dot


def draw(dot_text: str, image: str) -> bytes:
    """`dot_text` drawn as `image` (svg, png) by Graphviz."""
    return proc.run([require_dot(), f"-T{image}"], stdin=dot_text.encode()).stdout


def write(path: Path, data: bytes) -> None:
    """`data` at `path` whole: written beside it under a temporary name, then renamed over
    it (a link at `path` is replaced, not followed), with the mode a new file gets."""
    try:
        _write(path, data)
    except OSError as e:  # a read-only folder, a full disk, a name too long
        raise StateError(f"could not write {path}: {e.strerror or e}; nothing was "
                         "written.") from None


def _write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:200]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
