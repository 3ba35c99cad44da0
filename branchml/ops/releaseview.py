"""What the read side prints about releases beyond their manifests, from the trusted config
(main's `branchml.yaml`, never a release's own)."""

from __future__ import annotations

from pathlib import Path

from branchml.ops.trusted import trusted_config
from branchml.repo.reader import Git


def release_metrics(path: Path) -> list[str]:
    """`releases.metrics`: the metric names `branchml releases` shows, in order."""
    g = Git(path)
    try:
        return list((trusted_config(g).get("releases") or {}).get("metrics") or [])
    finally:
        g.close()
