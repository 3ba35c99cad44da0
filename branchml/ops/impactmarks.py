"""What `impact` says beside its counts, so that its answer and `lineage --rows` agree: which
of an upload's rows an earlier upload added first (lineage gives those to the earlier one),
which releases were tagged before the upload existed, and, per client, the newest and the
deployed release (the ones `impact --current` judges; the others are history)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from branchml.core.keyspans import KeySet
from branchml.core.rowhash import EMPTY
from branchml.ops import uploads
from branchml.ops.release import Release
from branchml.ops.route import record_at
from branchml.ops.uploadrows import chain_rows
from branchml.repo.reader import Git


@dataclass
class Earlier:
    """The withdrawn rows whose bytes an earlier upload added too (sorted distinct hashes),
    and those uploads' commits in history order."""

    hashes: Any = field(default_factory=lambda: EMPTY)
    commits: list[str] = field(default_factory=list)


def earlier(g: Git, found: list[uploads.Upload], events: list[uploads.Event], first: int,
            withdrawn: Any) -> Earlier:
    """The rows of `withdrawn` that uploads before upload number `first` (history order)
    added: one read of raw's rows up to there, keeping only the withdrawn ones' hashes."""
    parts: list[Any] = []
    commits: set[str] = set()
    wanted = KeySet(withdrawn)  # one probe a row (C table) where a search took ~14 steps
    for chain in uploads.chains([e for e in events if e.upload < first]):
        for u, h in chain_rows(g, chain):
            hit = h[wanted.contains(h)] if len(h) else h
            if len(hit):
                parts.append(hit)
                commits.add(found[u].commit)
    order = [u.commit for u in found if u.commit in commits]
    return Earlier(np.unique(np.concatenate(parts)) if parts else EMPTY,
                   list(dict.fromkeys(order)))


def before(g: Git, release: Release, upload: str) -> bool:
    """Whether `release` cannot hold the upload's rows through the upload itself: tagged
    before the upload's commit, or the upload is not in its history (a pull is a merge, so
    what came through one is). It holds such rows only through earlier uploads."""
    if not g.is_ancestor(upload, release.commit):
        return True
    made = g.out("log", "-1", "--format=%cI", upload, "--").strip()
    return _instant(release.date) < _instant(made)


def _instant(iso: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return 0.0


def clients(g: Git, releases: list[Release]) -> dict[str, dict[str, Any]]:
    """Per client: its newest release and the releases refs/deploy/<client> serves (read as
    `deployed` reads it: primary and candidate)."""
    out: dict[str, dict[str, Any]] = {}
    for r in releases:  # sorted by client, then number: the last one is the newest
        out.setdefault(r.client, {"newest": r.tag, "deployed": []})["newest"] = r.tag
    for client, marks in out.items():
        sha = g.resolve(f"refs/deploy/{client}")
        if sha is not None:
            marks["deployed"] = record_at(g, client, sha).tags()
    return out


def marks(client: dict[str, Any], tag: str) -> dict[str, bool]:
    """A release's marks: `newest`, `deployed`, and `current` (either)."""
    newest, deployed = client.get("newest") == tag, tag in client.get("deployed", [])
    return {"newest": newest, "deployed": deployed, "current": newest or deployed}
