"""`monitor check --report FILE`: the drift check written as .html (one self-contained page:
verdict, sortable table, charts) or .md (for a pull request). The file name is judged before
the check runs, so a bad name costs nothing; the file is written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from branchml.core.driftreport import drift_html, drift_markdown
from branchml.errors import StateError, UsageError
from branchml.ops import monitor, outfile

SUFFIXES = (".html", ".md")


def report(path: Path, tag: str, file: Path, since: str | None = None,
           window: str | None = None) -> dict[str, Any]:
    """Run `monitor check` on `tag` and write its report to `file`; returns the check."""
    check_path(file)
    r = monitor.check(path, tag, since, window)
    write_report(file, r)
    return r


def write_report(file: str | Path, result: Mapping[str, Any]) -> None:
    """Write the report of a `monitor check` result (one with windows too) in the form the
    name's suffix says. `file`: a str or a Path (the documented call passes a str)."""
    file = Path(file)
    check_path(file)
    write(file, drift_html(result) if file.suffix == ".html" else drift_markdown(result))


def check_path(report: Path) -> None:
    if report.is_dir():
        raise UsageError(f"--report {report} is a folder; give a file name ending in .html "
                         "or .md.")
    if report.suffix not in SUFFIXES:
        raise UsageError(f"--report {report}: a report is written as .html or .md, not "
                         f"{report.suffix or 'a file without an extension'}; rename it.")
    if not report.parent.is_dir():
        raise UsageError(f"--report {report}: the folder {report.parent} does not exist; "
                         "create it first.")
    # the report is renamed over FILE: never over a device link, a pipe or a socket
    outfile.check_replaceable(report, f"--report {report}", Path.cwd())


def write(report: Path, text: str) -> None:
    """Through a temporary file beside it and a rename: a reader (a browser reloading, a CI
    step) never sees half a report, and a failed write leaves the old one."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{report.name}.", dir=report.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a report is for sharing
        os.replace(tmp, report)
    except OSError as e:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise StateError(f"--report {report} cannot be written ({e.strerror}); give a file "
                         "you can write.") from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
