"""`branchml monitor log`: production rows onto `monitoring` (append-only, one commit built in
memory), every row checked before anything is written."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from branchml.content import strategies
from branchml.content.logged import logged_before
from branchml.core.logcheck import check_log_date, check_logged
from branchml.core.plan import Checkout, Plan, RefUpdate, Step
from branchml.core.roles import MAY_BE_ABSENT, Roles, declared_roles, left_out
from branchml.core.rows import RowFormat, format_for
from branchml.errors import DirtyWorktree, StateError, UsageError
from branchml.ops.monitortables import column_chunks, floats, read_table, training_head
from branchml.ops.release import find, tag_format
from branchml.ops.trusted import load_trusted, trusted_config, trusted_ref
from branchml.repo import apply, objectstore, worktree
from branchml.repo.reader import Git

BRANCH = "monitoring"


@dataclass
class LogReport:
    files: list[str] = field(default_factory=list)
    commit: str = ""
    already: list[str] = field(default_factory=list)  # given files logged before: skipped

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def log(path: Path, client: str, tag: str, files: list[Path], dry_run: bool = False,
        day: str | None = None) -> LogReport:
    """`day`: the day folder (YYYY-MM-DD) to log into, default today (UTC)."""
    g, repo = Git(path), objectstore.Repo(path)
    if not dry_run:
        apply.prepare(repo)  # a killed run's files are finished before the dirty check
    fmt_t = tag_format(g)
    rel = find(g, fmt_t, tag)
    if rel.client != client:
        raise UsageError(f"{tag} is a release of {rel.client}, not of {client}.")
    released = datetime.fromisoformat(rel.date).astimezone(UTC).date()
    day = check_log_date(day, datetime.now(UTC).date(), released, tag)
    cfg = trusted_config(g)
    mon = cfg.get("monitor") or {}
    policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
    store = strategies.Store(repo.common_dir, repo.root or repo.common_dir)
    assert rel.manifest is not None
    train_cols, head = training_head(g, repo, rel.manifest, store, cfg.get("formats") or {})
    roles = declared_roles(mon)
    absent_ok = {x.column for x in left_out(train_cols, head, roles) if x.role in MAY_BE_ABSENT}
    tip = repo.branch_target(BRANCH)
    if tip is None:
        raise StateError(f"there is no {BRANCH} branch; `branchml init` creates it.")
    out: dict[str, bytes] = {}
    already: list[str] = []
    for f in files:
        if not f.is_file():
            raise UsageError(f"{f}: no such file.")
        data = f.read_bytes()
        if not data.strip():
            raise UsageError(f"{f} is empty; log files with a header and rows.")
        fmt = format_for(f.name)
        check_logged(data, fmt, str(f))  # every row, before anything is written
        table = read_table(io.BytesIO(data), fmt, str(f))
        _check_columns(table.columns, train_cols, roles, absent_ok, str(f))
        _check_numbers(data, fmt, str(f), head, roles.prediction)
        dest = f"monitoring/{client}/{tag}/{day}/{f.name}"
        if logged_before(repo, tip, dest, data, fmt, store):
            already.append(str(f))
            continue
        old = repo.read_file(tip, dest)
        if old is not None and fmt is RowFormat.PARQUET:
            raise UsageError(f"{f.name} was logged for {tag} on {day} already, and a Parquet "
                             "file cannot grow in place: log it under another name.")
        if old is not None:
            old_data = strategies._read(old, store, dest)
            body = data.split(b"\n", 1)[1] if fmt is not RowFormat.JSONL else data
            data = old_data + (b"" if old_data.endswith(b"\n") else b"\n") + body
        out[dest] = data  # stored (git-lfs) only once nothing is refused, and not in a dry run
    report = LogReport(sorted(out), already=already)
    if not out:
        return report
    apply.not_busy(repo, BRANCH)
    if repo.head_branch() == BRANCH and repo.root and worktree.dirty(repo.root):
        raise DirtyWorktree(f"{BRANCH} is checked out with uncommitted changes: commit or "
                            "stash them first.")
    with repo.writer(dry_run) as w:  # a dry run's objects (git-lfs ones too) are thrown away
        into = strategies.Store(w.common_dir, store.cwd)
        blobs = {d: strategies.blob_for(d, data, policy, into) for d, data in out.items()}
        report.commit = w.commit_files(tip, blobs, f"branchml monitor log {client} {tag}: "
                                       f"{len(out)} file(s)\n")
    if not dry_run:
        steps: list[Step] = [RefUpdate(f"refs/heads/{BRANCH}", tip, report.commit, "(monitor)")]
        if repo.head_branch() == BRANCH:
            steps.append(Checkout(BRANCH))
        apply.apply(repo, Plan(f"monitor log {client} {tag}", steps))
    return report


def _check_columns(cols: list[str], train: list[str], roles: Roles, absent_ok: set[str],
                   name: str) -> None:
    """A monitored file holds the training columns, but for those with a role that may be
    absent (the label, ids, timestamps, ignored ones), plus the prediction and any column
    the config gives a role."""
    extra = [c for c in cols if c not in train and roles.role(c) is None]
    missing = [c for c in train if c not in cols and c not in absent_ok]
    if not extra and not missing:
        return
    parts = []
    if extra:
        parts.append(f"not in the training data: {', '.join(extra)}")
    if missing:
        parts.append(f"training columns missing: {', '.join(missing)}")
        if not any(r == "target" for r, _ in roles.declared.values()):
            which = missing[0] if len(missing) == 1 else "one of them"
            parts[-1] += (f"; if {which} is the label, set monitor.target: {missing[0]} in "
                          "main's branchml.yaml")
    raise UsageError(f"{name}: its columns do not match the training data ("
                     + "; ".join(parts) + ").")


def _check_numbers(data: bytes, fmt: RowFormat | None, name: str, head: dict[str, Any],
                   prediction: str) -> None:
    """Every value of a column that is numeric in the training data (judged on its first
    CHUNK_ROWS rows) and of the prediction reads as a number: `monitor check` compares them
    as numbers, so one word there, once on the append-only branch, would stop every later
    check of the release."""
    if fmt not in (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL):
        return
    numeric = {prediction}
    for column, values in head.items():
        try:
            floats(values, column, "")
        except UsageError:
            continue  # categorical
        numeric.add(column)
    for columns in column_chunks(lambda: io.BytesIO(data), fmt, name):
        for column in numeric & set(columns):
            floats(columns[column], column, name)
