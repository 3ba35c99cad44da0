"""`branchml lineage PATH --rev TAG --rows`: how many of the rows a release trained on came
from each raw upload, matched by the hashes of their bytes (a row cleaning rewrote matches
no upload and is counted apart, never guessed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from branchml.core import rowindex
from branchml.core.policy import Policy
from branchml.ops import trainrows
from branchml.ops.trusted import trusted_config
from branchml.ops.uploadrows import read_raw
from branchml.repo.reader import Git


def rows(g: Git, path: Path, policy: Policy, manifest: dict[str, Any], raw: str | None
         ) -> dict[str, Any]:
    """The `rows` field of `lineage --rows` for the release (or commit) of `manifest`."""
    found = read_raw(g, policy, trusted_config(g), raw)
    train = trainrows.training(g, path, policy, manifest)
    tally = rowindex.tally(found.index, len(found.uploads))
    for unit in train.units:
        unit.read(tally.add)
    tally.finish()
    uploads = [{"commit": u.commit, "author": u.author, "email": u.email, "date": u.date,
                "file": u.file, "rows": int(n), "upload_rows": u.rows}
               for u, n in zip(found.uploads, tally.per_upload.tolist(), strict=True) if n]
    return {"total": tally.total, "matched": tally.total - tally.unmatched,
            "unmatched": tally.unmatched, "duplicates": tally.duplicates,
            "source": train.source, "uploads": uploads, "not_rows": sorted(set(train.not_rows)),
            "raw": found.raw, "raw_commit": found.tip}
