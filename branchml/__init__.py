"""branchml: a Git repository as the whole home of an ML project."""

from __future__ import annotations

__version__ = "0.1.0"
