"""Commands: clone, push, sync (a team's shared repository on a Git host with LFS storage)."""

from __future__ import annotations
