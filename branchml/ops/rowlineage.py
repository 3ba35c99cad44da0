"""`branchml lineage PATH --rev TAG --rows`: how many of the rows a release trained on came
from each raw upload, matched by the hashes of their bytes (a row cleaning rewrote matches
no upload and is counted apart, never guessed)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from branchml.core import rowindex
from branchml.core.leakage import TRAINING
from branchml.core.model import PathClass
from branchml.core.policy import Policy
from branchml.ops import trainrows
from branchml.ops.split import SKIP
from branchml.ops.trusted import trusted_config
from branchml.ops.uploadrows import collect_raw, index_raw
from branchml.repo.reader import Git


def rows(g: Git, path: Path, policy: Policy, manifest: dict[str, Any], raw: str | None
         ) -> dict[str, Any]:
    """The `rows` field of `lineage --rows` for the release (or commit) of `manifest`.

    Raw's uploads are read and hashed on a second thread (its own git reader: a reader's
    cat-file process serves one thread) while this one reads the training rows, keeping
    their hashes (8 bytes a row); raw's index (a C hash table: one pass, no sort) is built
    once both are done and the selection is let go, so their memory is never needed at
    once (10M raw rows: 6.8 s / 388 MiB at load 1.3, 12.2 s with the sorted index; built
    on the thread too, the index took the process to 473 MiB, too near the 500 MiB the
    issue asks: docs/benchmarks.md "Row lineage")."""
    cfg = trusted_config(g)
    raw_git = Git(path)
    with ThreadPoolExecutor(1, thread_name_prefix="raw-rows") as pool:
        pending = pool.submit(collect_raw, raw_git, policy, cfg, raw)
        try:
            train = trainrows.training(g, path, policy, manifest)
            kept: list[Any] = []
            for unit in train.units:
                unit.read(kept.append)
            source, not_read = train.source, sorted(set(train.not_rows))
            del train  # the selection's assignment and tables, before the index's sort
            trainrows.forget(g)
            found = index_raw(pending.result())
        finally:
            wait([pending])
            raw_git.close()
    tally = rowindex.tally(found.index, len(found.uploads))
    for h in kept:
        tally.add(h)
    kept.clear()
    tally.finish()
    uploads = [{"commit": u.commit, "author": u.author, "email": u.email, "date": u.date,
                "file": u.file, "rows": int(n), "upload_rows": u.rows,
                **({"merge": True} if u.merge else {})}
               for u, n in zip(found.uploads, tally.per_upload.tolist(), strict=True) if n]
    return {"total": tally.total, "matched": tally.total - tally.unmatched,
            "unmatched": tally.unmatched, "duplicates": tally.duplicates,
            "source": source, "uploads": uploads, "not_rows": not_read,
            "raw": found.raw, "raw_commit": found.tip,
            "warnings": elsewhere(g, policy, manifest) if source == "splits" else []}


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
