"""`branchml impact --from RAW_COMMIT | --rows FILE`: every release, branch and split whose
data holds any of the rows to withdraw (an upload's added rows, or a file's), with counts.
`held` when a release holds any: the command exits 1 then, so a script can gate on it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from branchml.core import rowindex
from branchml.core.leakage import TRAINING
from branchml.core.model import BranchKind
from branchml.core.policy import Policy
from branchml.core.rows import format_for
from branchml.core.rowstream import LINE_FORMATS, stream_hashes
from branchml.errors import BranchmlError, UsageError
from branchml.ops import impactmarks, leftovers, trainrows, uploads
from branchml.ops.release import Release, read_releases, tag_format
from branchml.ops.split import BRANCH as SPLIT_BRANCH
from branchml.ops.splitcounts import Coded, coded_counts, fingerprint
from branchml.ops.trusted import TrustedPolicy, load_trusted, trusted_ref
from branchml.ops.uploadrows import chain_rows
from branchml.repo.reader import Git

UNREADABLE = "unreadable"  # a release's training selection that cannot be read
BRANCH_KINDS = (BranchKind.DATA, BranchKind.STABLE, BranchKind.ANALYSIS, BranchKind.CODE)


def impact(path: Path, from_commit: str | None, rows_file: Path | None,
           raw: str | None = None, current: bool = False) -> dict[str, Any]:
    """What holds the rows to withdraw; `held` judges every release, or with `current` only
    each client's newest and deployed ones (the others are listed as history)."""
    if (from_commit is None) == (rows_file is None):
        raise UsageError("name the rows to withdraw with --from RAW_COMMIT or --rows FILE "
                         "(one of the two).")
    g = Git(path)
    try:
        trusted = load_trusted(g, [trusted_ref(g), "HEAD"])
        shared = impactmarks.Earlier()
        if from_commit is not None:
            withdrawn, count, said, shared, src = _upload_rows(g, trusted, from_commit, raw)
        else:
            assert rows_file is not None
            withdrawn, count, said, src = _file_rows(rows_file, trusted.config)
        counter = _Counter(withdrawn, shared.hashes)
        out = {"rows": count, "distinct": len(withdrawn), **said,
               **_holders(g, path, trusted, counter, said.get("from"))}
        out["left_behind"] = leftovers.leftovers(g, _tips(g, trusted), src, withdrawn,
                                                 trusted.config.get("split") or {})
        if from_commit is not None:
            out["shared_with_earlier"] = {"rows": len(shared.hashes),
                                          "uploads": shared.commits}
    finally:
        g.close()
    judged = [x for x in out["releases"] if held(x) and (x["current"] or not current)]
    out["held"] = bool(judged)
    out["current_only"] = current
    # a wrong header or `32.10` for `32.1` matches nothing: an all-clear that must be seen
    out["found_anywhere"] = sum(map(held, out["releases"])) + sum(
        1 for x in out["branches"] if x["rows"])
    out["not_read"] = sorted({p for x in out["releases"] + out["branches"]
                              for p in x["not_rows"]})
    return out


def _upload_rows(g: Git, trusted: TrustedPolicy, rev: str, raw: str | None
                 ) -> tuple[Any, int, dict[str, Any], impactmarks.Earlier, leftovers.Source]:
    name = uploads.raw_branch(trusted.config, raw)
    tip = uploads.raw_tip(g, name)
    commit = g.resolve(f"{rev}^{{commit}}")
    if commit is None or not g.is_ancestor(commit, tip):
        raise UsageError(f"{rev} is not a commit of the {name} branch: name an upload on "
                         f"{name} (`git log {name}`), or the raw branch with --raw.")
    found, events, _ = uploads.read_events(g, trusted.policy,
                                           dict(trusted.config.get("formats") or {}), tip)
    mine = [e for e in events if found[e.upload].commit == commit]
    uploads.fetch_lfs(g, tip, mine)
    parts = [h for e in mine for _, h in chain_rows(g, [e])]
    count = sum(len(h) for h in parts)
    if not count:
        raise UsageError(f"{commit[:10]} adds no rows on {name} (no data file of a row format "
                         "added or grown): name the commit of an upload.")
    files = sorted({found[e.upload].file for e in mine})
    withdrawn = rowindex.withdrawn_set(parts)
    # lineage gives a row to its earliest upload: say which of these an earlier one added
    shared = impactmarks.earlier(g, found, events, min(e.upload for e in mine), withdrawn)
    return (withdrawn, count, {"from": commit, "raw": name, "files": files}, shared,
            leftovers.Source(events=mine))


def _file_rows(file: Path, cfg: dict[str, Any]
               ) -> tuple[Any, int, dict[str, Any], leftovers.Source]:
    fmt = format_for(file.name, dict(cfg.get("formats") or {}))
    if fmt not in LINE_FORMATS:
        raise UsageError(f"{file} is not a file of rows (CSV, TSV, JSON lines or text, by its "
                         "extension): write the rows to withdraw to such a file.")
    assert fmt is not None
    try:
        with file.open("rb") as f:
            parts = list(stream_hashes(f, fmt))
    except OSError as e:
        raise UsageError(f"{file} cannot be read ({e.strerror}): name a file of the rows to "
                         "withdraw.") from None
    count = sum(len(h) for h in parts)
    if not count:
        raise UsageError(f"{file} holds no rows (a CSV or TSV starts with its header line): "
                         "write the rows to withdraw into it.")
    return (rowindex.withdrawn_set(parts), count, {"file": str(file)},
            leftovers.Source(file, fmt))


class _Counter:
    """Counts of withdrawn rows per unit (and of those an earlier upload added too), each
    unit read once: releases and branches that share a file or a selection share its count."""

    def __init__(self, withdrawn: Any, shared: Any) -> None:
        self.withdrawn, self.shared = withdrawn, shared
        self.cache: dict[str, tuple[int, int]] = {}
        self.coded: dict[tuple[Any, ...], Coded | BranchmlError | None] = {}

    def by_name(self, g: Git, path: Path, commit: str, digest: str = "") -> Coded | None:
        """Every split name's counts in `commit`'s keyed selection, one pass for all the
        commits that select the same rows (a release's data commit and the split branch's
        tip); None: select name by name. A selection's error is raised again for each."""
        key = fingerprint(g, path, commit, digest)
        if key is None:
            return None
        if key not in self.coded:
            try:
                self.coded[key] = coded_counts(g, path, commit, self.withdrawn, self.shared)
            except BranchmlError as e:
                self.coded[key] = e
        found = self.coded[key]
        if isinstance(found, BranchmlError):
            raise found
        return found

    def units(self, units: list[trainrows.Unit]) -> tuple[int, int]:
        found = [self.unit(u) for u in units]
        return sum(n for n, _ in found), sum(m for _, m in found)

    def unit(self, u: trainrows.Unit) -> tuple[int, int]:
        if u.key not in self.cache:
            n = [0, 0]
            waiting: list[Any] = []  # gathered: a million sorted probes share the cache

            def flush() -> None:
                if waiting:
                    batch = np.concatenate(waiting)
                    n[0] += rowindex.count_in(self.withdrawn, batch)
                    n[1] += rowindex.count_in(self.shared, batch)
                    waiting.clear()

            def sink(h: Any) -> None:
                waiting.append(h)
                if sum(map(len, waiting)) >= rowindex.PROBES:
                    flush()
            u.read(sink)
            flush()
            self.cache[u.key] = (n[0], n[1])
        return self.cache[u.key]


def _holders(g: Git, path: Path, trusted: TrustedPolicy, counter: _Counter,
             upload: str | None) -> dict[str, Any]:
    policy = trusted.policy
    every = read_releases(g, tag_format(g))
    clients = impactmarks.clients(g, every)
    releases = []
    for r in every:
        if r.manifest is not None:
            found = _release(g, path, policy, counter, r.manifest)
            shared = found.pop("shared")
            if found["rows"] or found["in_data"] or found["not_rows"] \
                    or found["training"] == UNREADABLE:
                releases.append({"tag": r.tag, "client": r.client, "commit": r.commit,
                                 **found, **impactmarks.marks(clients[r.client], r.tag),
                                 **_upload_marks(g, r, upload, shared)})
    branches = []
    for name, tip in _tips(g, trusted).items():
        files = trainrows.commit_files(g, policy, tip, "branch")
        n, _ = counter.units(files.units)
        if n or files.not_rows:
            branches.append({"branch": name, "commit": tip, "rows": n,
                             "not_rows": sorted(set(files.not_rows))})
    return {"releases": releases, "branches": branches, "clients": clients,
            "splits": _splits(g, path, counter)}


def _release(g: Git, path: Path, policy: Policy, counter: _Counter,
             manifest: dict[str, Any]) -> dict[str, Any]:
    """One release's counts: `trained` (its training selection: split requests, or its data
    folders) and `in_data` (every row of its commit's data files). A withdrawal asks what a
    release holds: split records may be stale or name another commit, so `in_data` is
    counted whatever they say, and records that cannot be read leave that count standing."""
    data = None
    try:
        train = trainrows.training(g, path, policy, manifest, counter.withdrawn)
        coded = _by_name(g, path, counter, manifest) if train.source == "splits" else None
        trained, shared = coded if coded is not None else counter.units(train.units)
        source, reason = train.source, None
        if train.source == trainrows.DATA_FOLDERS:
            data = train
    except BranchmlError as e:  # one release's records must not stop the answer for all
        trained, shared, source, reason = None, 0, UNREADABLE, str(e)
    if data is None:
        data = trainrows.commit_files(g, policy, manifest["commit"], trainrows.DATA_FOLDERS)
    in_data, shared_data = counter.units(data.units)
    out = {"rows": trained or 0, "trained": trained, "in_data": in_data, "training": source,
           "not_rows": sorted(set(data.not_rows)),
           "shared": shared if trained else shared_data}
    if reason is not None:
        out["training_error"] = reason
    return out


def _by_name(g: Git, path: Path, counter: _Counter, manifest: dict[str, Any]
             ) -> tuple[int, int] | None:
    """A release's training counts from the one pass over each of its requests' data commit
    (shared with the split branch when they read the same); None when a request cannot be
    counted so, or its selection fails: then it is selected as before, which says why."""
    records = [r for r in manifest.get("splits") or [] if r.get("purpose") in TRAINING]
    n = m = 0
    for (commit, digest), names in trainrows.union(records).items():
        try:
            found = counter.by_name(g, path, commit, digest)
        except BranchmlError:
            return None
        if found is None:
            return None
        a, b = found.total(names)
        n, m = n + a, m + b
    return n, m


def held(release: dict[str, Any]) -> bool:
    """Whether a listed release holds any withdrawn row: in what it trained on or in its data."""
    return bool(release.get("trained") or release.get("in_data"))


def _tips(g: Git, trusted: TrustedPolicy) -> dict[str, str]:
    """The branches whose data `impact` reads (raw, clean, split, stable, ds, dev): tips."""
    out = {}
    for ref, tip in sorted(g.refs("refs/heads/").items()):
        name = ref.removeprefix("refs/heads/")
        bt = trusted.policy.branch_type(name)
        if bt is not None and bt.kind in BRANCH_KINDS:
            out[name] = tip
    return out


def _upload_marks(g: Git, r: Release, upload: str | None, shared: int) -> dict[str, Any]:
    if upload is None:
        return {}
    return {"shared_with_earlier": shared,
            "before_upload": impactmarks.before(g, r, upload)}


def _splits(g: Git, path: Path, counter: _Counter) -> list[dict[str, Any]]:
    tip = g.resolve(f"refs/heads/{SPLIT_BRANCH}^{{commit}}")
    hashed = trainrows.cached_assignment(g, tip) if tip else None
    if tip is None or hashed is None:
        return []
    coded = counter.by_name(g, path, tip)  # one pass for every name
    counts = None if coded is None else dict(zip(coded.names, coded.held, strict=True))
    out = []
    for name in hashed.names:
        n = counts[name] if counts is not None else counter.unit(trainrows.Unit(
            f"{tip}:{name}", _selection(g, path, tip, name, counter.withdrawn)))[0]
        if n:
            out.append({"branch": SPLIT_BRANCH, "split": name, "rows": n})
    return out


def _selection(g: Git, path: Path, tip: str, name: str, only: Any
               ) -> Callable[[trainrows.Sink], None]:
    def read(sink: trainrows.Sink) -> None:
        trainrows.split_selection(g, path, tip, [name], sink, only=only)
    return read
