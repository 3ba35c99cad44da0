"""`branchml impact --from RAW_COMMIT | --rows FILE`: every release, branch and split whose
data holds any of the rows to withdraw (an upload's added rows, or a file's), with counts.
`held` when a release holds any: the command exits 1 then, so a script can gate on it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from branchml.core import rowindex
from branchml.core.model import BranchKind
from branchml.core.rows import format_for
from branchml.core.rowstream import LINE_FORMATS, stream_hashes
from branchml.errors import UsageError
from branchml.ops import trainrows, uploads
from branchml.ops.release import read_releases, tag_format
from branchml.ops.split import BRANCH as SPLIT_BRANCH
from branchml.ops.splitcounts import split_counts
from branchml.ops.trusted import TrustedPolicy, load_trusted, trusted_ref
from branchml.ops.uploadrows import chain_rows
from branchml.repo.reader import Git

BRANCH_KINDS = (BranchKind.DATA, BranchKind.STABLE, BranchKind.ANALYSIS, BranchKind.CODE)


def impact(path: Path, from_commit: str | None, rows_file: Path | None,
           raw: str | None = None) -> dict[str, Any]:
    if (from_commit is None) == (rows_file is None):
        raise UsageError("name the rows to withdraw with --from RAW_COMMIT or --rows FILE "
                         "(one of the two).")
    g = Git(path)
    try:
        trusted = load_trusted(g, [trusted_ref(g), "HEAD"])
        if from_commit is not None:
            withdrawn, count, said = _upload_rows(g, trusted, from_commit, raw)
        else:
            assert rows_file is not None
            withdrawn, count, said = _file_rows(rows_file, trusted.config)
        counter = _Counter(withdrawn)
        out = {"rows": count, **said, **_holders(g, path, trusted, counter)}
    finally:
        g.close()
    out["held"] = bool(out["releases"])
    return out


def _upload_rows(g: Git, trusted: TrustedPolicy, rev: str, raw: str | None
                 ) -> tuple[Any, int, dict[str, Any]]:
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
    return rowindex.withdrawn_set(parts), count, {"from": commit, "raw": name, "files": files}


def _file_rows(file: Path, cfg: dict[str, Any]) -> tuple[Any, int, dict[str, Any]]:
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
    return rowindex.withdrawn_set(parts), count, {"file": str(file)}


class _Counter:
    """Counts of withdrawn rows per unit, each unit read once (releases and branches that
    share a file or a split selection share its count)."""

    def __init__(self, withdrawn: Any) -> None:
        self.withdrawn = withdrawn
        self.cache: dict[str, int] = {}

    def units(self, units: list[trainrows.Unit]) -> int:
        return sum(self.unit(u) for u in units)

    def unit(self, u: trainrows.Unit) -> int:
        if u.key not in self.cache:
            n = 0
            waiting: list[Any] = []  # gathered: a million sorted probes share the cache

            def flush() -> None:
                nonlocal n
                if waiting:
                    n += rowindex.count_in(self.withdrawn, np.concatenate(waiting))
                    waiting.clear()

            def sink(h: Any) -> None:
                waiting.append(h)
                if sum(map(len, waiting)) >= rowindex.PROBES:
                    flush()
            u.read(sink)
            flush()
            self.cache[u.key] = n
        return self.cache[u.key]


def _holders(g: Git, path: Path, trusted: TrustedPolicy, counter: _Counter
             ) -> dict[str, Any]:
    policy = trusted.policy
    releases = []
    for r in read_releases(g, tag_format(g)):
        if r.manifest is not None:
            units = trainrows.training(g, path, policy, r.manifest, counter.withdrawn).units
            n = counter.units(units)
            if n:
                releases.append({"tag": r.tag, "commit": r.commit, "rows": n})
    branches = []
    for ref, tip in sorted(g.refs("refs/heads/").items()):
        name = ref.removeprefix("refs/heads/")
        bt = policy.branch_type(name)
        if bt is not None and bt.kind in BRANCH_KINDS:
            n = counter.units(trainrows.commit_files(g, policy, tip, "branch").units)
            if n:
                branches.append({"branch": name, "commit": tip, "rows": n})
    return {"releases": releases, "branches": branches, "splits": _splits(g, path, counter)}


def _splits(g: Git, path: Path, counter: _Counter) -> list[dict[str, Any]]:
    tip = g.resolve(f"refs/heads/{SPLIT_BRANCH}^{{commit}}")
    hashed = trainrows.cached_assignment(g, tip) if tip else None
    if tip is None or hashed is None:
        return []
    counts = split_counts(g, path, tip, counter.withdrawn)  # one pass for every name
    out = []
    for name in hashed.names:
        n = counts[name] if counts is not None else counter.unit(trainrows.Unit(
            f"{tip}:{name}", _selection(g, path, tip, name, counter.withdrawn)))
        if n:
            out.append({"branch": SPLIT_BRANCH, "split": name, "rows": n})
    return out


def _selection(g: Git, path: Path, tip: str, name: str, only: Any
               ) -> Callable[[trainrows.Sink], None]:
    def read(sink: trainrows.Sink) -> None:
        trainrows.split_selection(g, path, tip, [name], sink, only=only)
    return read
