"""`branchml split`: assign every item on the split branch to train/val/test, stably."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.content import strategies
from branchml.core import split as core
from branchml.core.globs import glob_regex
from branchml.core.plan import Checkout, Plan, RefUpdate, Step
from branchml.core.rows import BOM, BadRow, RowFormat, csv_fields, format_for, numbered_records
from branchml.errors import DirtyWorktree, StateError, UsageError, VerdictError
from branchml.ops.trusted import load_trusted, trusted_config, trusted_ref
from branchml.repo import apply, objectstore, worktree
from branchml.repo.reader import Git

BRANCH = "split"
SKIP = ("data/split/", "data/_validation/")


@dataclass
class SplitReport:
    branch: str
    seed: int
    ratios: list[float]
    key: str | None
    added: dict[str, int] = field(default_factory=dict)
    total: int = 0
    commit: str = ""
    dry_run: bool = False
    # rows with an empty or absent key, left unassigned (--skip-empty-keys): count per file
    # and the first row numbers
    empty_keys: dict[str, int] = field(default_factory=dict)
    empty_key_rows: dict[str, list[int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def split(path: Path, seed: int | None, ratios: str | None, key: str | None,
          dry_run: bool = False, skip_empty_keys: bool = False) -> SplitReport:
    g = Git(path)
    repo = objectstore.Repo(path)
    if not dry_run:
        apply.prepare(repo)  # a killed run's files are finished before the dirty check
    cfg = trusted_config(g).get("split") or {}
    given = core.parse_ratios(ratios) if ratios else None
    tip = repo.branch_target(BRANCH)
    if tip is None:
        raise StateError(f"there is no {BRANCH} branch: create it with `branchml branch create "
                         f"{BRANCH}` (it starts from clean).")
    apply.not_busy(repo, BRANCH)
    if repo.head_branch() == BRANCH and repo.root and worktree.dirty(repo.root):
        raise DirtyWorktree(f"{BRANCH} is checked out with uncommitted changes: commit or stash "
                            "them, then run the command again.")
    store = strategies.Store(repo.common_dir, repo.root or repo.common_dir)
    policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
    recorded = repo.read_file(tip, core.PARAMS)
    was = None if recorded is None else _params(strategies._read(recorded, store, core.PARAMS))
    seed, ratio_t, key = core.resolve_params(was, seed, given, key, cfg)
    source = cfg.get("source", "data/**")
    missing = core.MissingKeys()
    items = list(_items(repo, tip, store, source, key, cfg, missing))
    if missing.total and not skip_empty_keys:
        raise VerdictError(missing.refusal(key or ""))
    old = repo.read_file(tip, core.ASSIGNMENT)
    old_text = strategies._read(old, store, core.ASSIGNMENT) if old is not None else None
    new_text, added = core.assign(old_text, items, seed, ratio_t)
    report = SplitReport(BRANCH, seed, list(ratio_t), key, added, len(set(items)),
                         dry_run=dry_run, empty_keys=missing.counts,
                         empty_key_rows=missing.rows)
    if not added:
        return report
    counts = ", ".join(f"{n} {k}" for k, n in sorted(added.items()))
    message = (f"branchml split: {sum(added.values())} new item(s) assigned ({counts})\n\n"
               f"Branchml-Split: seed={seed} ratios={','.join(map(str, ratio_t))} key={key}\n")
    with repo.writer(dry_run) as w:  # a dry run's objects (git-lfs ones too) are thrown away
        out = strategies.Store(w.common_dir, store.cwd)
        files = {core.ASSIGNMENT: strategies.blob_for(core.ASSIGNMENT, new_text, policy, out)}
        if recorded is None:
            params = core.params_file(seed, ratio_t, key)
            files[core.PARAMS] = strategies.blob_for(core.PARAMS, params, policy, out)
        report.commit = w.commit_files(tip, files, message)
    if not dry_run:
        steps: list[Step] = [RefUpdate(f"refs/heads/{BRANCH}", tip, report.commit, "(split)")]
        if repo.head_branch() == BRANCH:
            steps.append(Checkout(BRANCH))
        apply.apply(repo, Plan("split", steps))
    g.close()
    return report


def _params(data: bytes) -> dict[str, Any]:
    try:
        params = json.loads(data)
    except ValueError:
        params = None
    ok = (isinstance(params, dict) and isinstance(params.get("seed", 0), int)
          and isinstance(params.get("ratios"), list) and len(params["ratios"]) in core.NAMES
          and all(isinstance(r, int | float) for r in params["ratios"])
          and isinstance(params.get("key"), str | None))
    if not ok:
        raise StateError(f"{core.PARAMS} on {BRANCH} is not the seed, ratios and key branchml "
                         "records; restore it from the commit that made the split.")
    return dict(params)


def _items(repo: objectstore.Repo, tip: str, store: strategies.Store, source: str, key: str | None,
           cfg: dict[str, Any], missing: core.MissingKeys) -> Iterator[str]:
    """Keys in a stable order: file paths, or the key column's values of the row files."""
    rx = glob_regex(source)
    paths = sorted(p for p in _files(repo.pg[tip].tree, "") if rx.match(p)
                   and not p.startswith(SKIP))
    if key is None:
        yield from paths
        return
    for p in paths:
        fmt = format_for(p, cfg.get("formats"))
        if fmt not in (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL):
            continue
        data = strategies._read(repo.read_file(tip, p) or b"", store, p)
        for n, value in _column(p, fmt, data, key):
            if value is None or not value.strip():
                missing.add(p, n)
            else:
                yield value


def _column(path: str, fmt: RowFormat, data: bytes, key: str
            ) -> Iterator[tuple[int, str | None]]:
    """(row number, the key's value) of every row, rows read as every other door reads them
    (core/rows); None: the row has no such field."""
    records = numbered_records(data, fmt)
    if fmt is RowFormat.JSONL:
        for n, record in records:
            if record.strip():
                try:
                    row = json.loads(record)
                except (ValueError, RecursionError):
                    raise UsageError(f"{path}: row {n} is not valid JSON; fix it on its branch, "
                                     "then split again.") from None
                if not isinstance(row, dict):
                    raise UsageError(f"{path}: row {n} is not a JSON object, so it has no "
                                     f"{key!r} field; fix it on its branch, then split again.")
                value = row.get(key)
                yield n, None if value is None else str(value)
        return
    first = next(records, None)
    names = _fields(path, 1, first[1].removeprefix(BOM), fmt) if first else []
    if key not in names:
        raise UsageError(f"--key {key!r} is not a column of {path} (columns: "
                         f"{', '.join(names)}).")
    at = names.index(key)
    for n, record in records:
        if not record:
            continue  # a blank row holds no item (append drops it too)
        fields = _fields(path, n, record, fmt)
        if len(fields) != len(names):
            raise UsageError(f"{path}: row {n} has {len(fields)} fields where the header has "
                             f"{len(names)}; fix it on its branch, then split again.")
        yield n, fields[at]


def _fields(path: str, n: int, record: bytes, fmt: RowFormat) -> list[str]:
    try:
        return csv_fields(record, fmt)
    except BadRow as e:
        raise UsageError(f"{path}: row {n} is not one {fmt.value.upper()} row ({e}); fix it on "
                         "its branch, then split again.") from None


def _files(tree: Any, prefix: str) -> Iterator[str]:
    for e in tree:
        if e.type_str == "tree":
            yield from _files(e, f"{prefix}{e.name}/")
        else:
            yield prefix + e.name
