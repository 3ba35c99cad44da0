"""`monitor check --report FILE`: the drift check written as .html (a chart per feature) or
.md. The file name is judged before the check runs, so a bad name costs nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from branchml.core.driftreport import drift_html, drift_markdown
from branchml.errors import StateError, UsageError
from branchml.ops import monitor

SUFFIXES = (".html", ".md")


def report(path: Path, tag: str, file: Path, since: str | None = None,
           window: str | None = None) -> dict[str, Any]:
    """Run `monitor check` on `tag` and write its report to `file`; returns the check."""
    check_path(file)
    r = monitor.check(path, tag, since, window)
    write(file, drift_html(r) if file.suffix == ".html" else drift_markdown(r))
    return r


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


def write(report: Path, text: str) -> None:
    try:
        report.write_text(text, encoding="utf-8")
    except OSError as e:
        raise StateError(f"--report {report} cannot be written ({e.strerror}); give a file "
                         "you can write.") from None
