"""`branchml lineage PATH --rev TAG --rows`: how many of the rows a release trained on came
from each raw upload, matched by the hashes of their bytes (a row cleaning rewrote matches
no upload and is counted apart, never guessed)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from branchml.core import rowindex
from branchml.core.leakage import TRAINING
from branchml.core.model import PathClass
from branchml.core.policy import Policy
from branchml.ops import trainrows
from branchml.ops.split import SKIP
from branchml.ops.trusted import trusted_config
from branchml.ops.uploadrows import RawRows, read_raw
from branchml.repo.reader import Git


def rows(g: Git, path: Path, policy: Policy, manifest: dict[str, Any], raw: str | None
         ) -> dict[str, Any]:
    """The `rows` field of `lineage --rows` for the release (or commit) of `manifest`.

    Raw's index is built on a second thread (its own git reader: a reader's cat-file
    process serves one thread) while this one reads the training rows: the sorting,
    hashing and file reading of both run outside the GIL, so a 2-core machine does the two
    at once (10M rows: ~10 s one after the other). Training hashes wait in `_Early` until
    the index is there (at most KEPT of them; then the reading waits)."""
    cfg = trusted_config(g)
    raw_git = Git(path)
    with ThreadPoolExecutor(1, thread_name_prefix="raw-index") as pool:
        pending = pool.submit(read_raw, raw_git, policy, cfg, raw)
        try:
            train = trainrows.training(g, path, policy, manifest)
            early = _Early(pending)
            for unit in train.units:
                unit.read(early.add)
            found, tally = early.done()
        finally:
            wait([pending])
            raw_git.close()
    uploads = [{"commit": u.commit, "author": u.author, "email": u.email, "date": u.date,
                "file": u.file, "rows": int(n), "upload_rows": u.rows,
                **({"merge": True} if u.merge else {})}
               for u, n in zip(found.uploads, tally.per_upload.tolist(), strict=True) if n]
    return {"total": tally.total, "matched": tally.total - tally.unmatched,
            "unmatched": tally.unmatched, "duplicates": tally.duplicates,
            "source": train.source, "uploads": uploads, "not_rows": sorted(set(train.not_rows)),
            "raw": found.raw, "raw_commit": found.tip,
            "warnings": elsewhere(g, policy, manifest) if train.source == "splits" else []}


KEPT = 1 << 24  # training hashes kept while the index is built (at most 128 MiB)


class _Early:
    """The training rows' hashes, kept until raw's index is built, then counted."""

    def __init__(self, pending: Future[RawRows]) -> None:
        self.pending = pending
        self.kept: list[Any] = []
        self.held = 0
        self.tally: rowindex.Tally | None = None

    def add(self, hashes: Any) -> None:
        if self.tally is None and (self.pending.done() or self.held >= KEPT):
            self._start()  # (past KEPT rows: waits for the index, so memory stays bounded)
        if self.tally is None:
            self.kept.append(hashes)
            self.held += len(hashes)
        else:
            self.tally.add(hashes)

    def _start(self) -> None:
        found = self.pending.result()
        self.tally = rowindex.tally(found.index, len(found.uploads))
        for h in self.kept:
            self.tally.add(h)
        self.kept = []

    def done(self) -> tuple[RawRows, rowindex.Tally]:
        if self.tally is None:
            self._start()
        assert self.tally is not None
        self.tally.finish()
        return self.pending.result(), self.tally


def elsewhere(g: Git, policy: Policy, manifest: dict[str, Any]) -> list[str]:
    """A warning per training record whose data commit is not on the release commit's
    first-parent history, or whose data files are not the release's: the records are
    inherited (`tracking/splits.jsonl` only grows) or written by hand, so the rows they
    select may not be the rows the release holds."""
    commit, out = manifest["commit"], []
    mine = _data_files(g, policy, commit)
    for at in dict.fromkeys(str(r.get("data_commit")) for r in manifest.get("splits") or []
                            if r.get("purpose") in TRAINING):
        if at == commit:
            continue
        if g.object_type(at) != "commit" or not g.on_first_parent_chain(commit, at):
            why = f"which is not on {commit[:10]}'s first-parent history"
        elif _data_files(g, policy, at) != mine:
            why = f"whose data files are not those of {commit[:10]} (its data changed since)"
        else:
            continue
        out.append(f"a training split record reads data commit {at[:10]}, {why}: the rows "
                   "counted may not be the rows this release holds (`branchml impact` counts "
                   "its data too).")
    return out


def _data_files(g: Git, policy: Policy, commit: str) -> set[tuple[str, str]]:
    return {(p, oid) for _, oid, p in g.ls_tree(commit)
            if policy.classify(p) is PathClass.DATA and not p.startswith(SKIP)}
