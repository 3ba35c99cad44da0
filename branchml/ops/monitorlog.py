"""`branchml monitor log`: production rows onto `monitoring` (append-only, one commit built in
memory), every row checked before any ref moves; each file streamed (ops/monitorstream.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from branchml.content import strategies
from branchml.content.logged import logged_before, logged_before_stream, open_logged
from branchml.core.logcheck import check_log_date
from branchml.core.names import check_client_id
from branchml.core.plan import Checkout, Plan, RefUpdate, Step
from branchml.core.roles import MAY_BE_ABSENT, Roles, declared_roles, left_out
from branchml.core.rows import RowFormat, format_for
from branchml.errors import DirtyWorktree, StateError, UsageError
from branchml.ops.monitorstream import Sink, blank, numeric_columns, stream_file
from branchml.ops.monitortables import read_table, training_head
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
    check_client_id(client)  # a client id like `../x` is named as such, before any release
    g, repo = Git(path), objectstore.Repo(path)
    if not dry_run:
        apply.prepare(repo)  # a killed run's files are finished before the dirty check
    fmt_t = tag_format(g)
    rel = find(g, fmt_t, tag)
    if rel.client != client:
        raise UsageError(f"{tag} is a release of {rel.client}, not of {client}; log it with "
                         f"--client {rel.client}, or name a release of {client}.")
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
    numeric = numeric_columns(head, roles.prediction)
    as_lfs = policy.classify(f"monitoring/{client}/{tag}/{day}/x") in policy.lfs_classes
    cfg_git = repo.pg.config
    object_format = (str(cfg_git["extensions.objectformat"])
                     if "extensions.objectformat" in cfg_git else None)
    _one_name_each(files)
    out: dict[str, bytes | objectstore.Written] = {}
    already: list[str] = []
    sinks: list[Sink] = []
    with repo.writer(dry_run) as w:  # a dry run's objects (git-lfs ones too) are thrown away
        try:
            for f in files:
                dest = f"monitoring/{client}/{tag}/{day}/{f.name}"
                content = _one_file(repo, w, tip, f, dest, (train_cols, roles, absent_ok),
                                    numeric, store, (as_lfs, object_format), sinks)
                if content is None:
                    already.append(str(f))
                else:
                    out[dest] = content
            report = LogReport(sorted(out), already=already)
            if not out:
                return report
            apply.not_busy(repo, BRANCH)
            if repo.head_branch() == BRANCH and repo.root and worktree.dirty(repo.root):
                raise DirtyWorktree(f"{BRANCH} is checked out with uncommitted changes: "
                                    "commit or stash them first.")
            report.commit = w.commit_files(tip, out, f"branchml monitor log {client} {tag}: "
                                           f"{len(out)} file(s)\n")
        except BaseException:
            for sink in sinks:
                sink.abort()
            raise
    if not dry_run:
        steps: list[Step] = [RefUpdate(f"refs/heads/{BRANCH}", tip, report.commit, "(monitor)")]
        if repo.head_branch() == BRANCH:
            steps.append(Checkout(BRANCH))
        apply.apply(repo, Plan(f"monitor log {client} {tag}", steps))
    return report


def _one_name_each(files: list[Path]) -> None:
    """Files land under their name in one day folder: two of the same name in one command
    would be one blob, the first one's rows lost (atk19-08). Refused before anything is read."""
    seen: dict[str, Path] = {}
    for f in files:
        if f.name in seen:
            raise UsageError(f"{seen[f.name]} and {f} have the same name ({f.name}) and would "
                             "be logged as one file; rename one of them or log them in two "
                             "commands.")
        seen[f.name] = f


def _one_file(repo: objectstore.Repo, w: objectstore.Repo, tip: str, f: Path, dest: str,
              columns: tuple[list[str], Roles, set[str]], numeric: set[str],
              store: strategies.Store, how: tuple[bool, str | None], sinks: list[Sink]
              ) -> bytes | objectstore.Written | None:
    """One file checked and written (streamed); None when its rows were logged before."""
    if not f.is_file():  # a FIFO or a device is not a file of rows (and could block)
        raise UsageError(f"{f}: no such file." if not f.exists() else f"{f} is a folder; log "
                         "the files in it." if f.is_dir() else f"{f}: not a regular file; log "
                         "a file of rows.")
    fmt = format_for(f.name)
    if blank(f):
        raise UsageError(f"{f} is empty; log files with a header and rows.")
    if fmt not in (RowFormat.CSV, RowFormat.TSV, RowFormat.JSONL):  # Parquet, or refused
        with f.open("rb") as fh:
            _check_columns(read_table(fh, fmt, str(f)).columns, *columns, str(f))
        return _parquet(repo, w, tip, f, dest, store, how[0])
    sink = Sink(w, *how)
    sinks.append(sink)
    with open_logged(repo, tip, dest, store) as old:
        rows, word = stream_file(f, fmt, numeric, sink, old)  # rows that cannot be read: raised
    if not rows.size:  # a header alone: nothing to monitor, and a check of it scored 0 rows
        raise UsageError(f"{f} has a header but no rows; log files with rows.")
    with f.open("rb") as fh:
        table = read_table(fh, fmt, str(f))  # the header alone
    _check_columns(table.columns, *columns, str(f))
    if word is not None:
        raise word
    if logged_before_stream(repo, tip, dest, rows, store):
        sink.abort()
        return None
    return sink.finish()


def _parquet(repo: objectstore.Repo, w: objectstore.Repo, tip: str, f: Path, dest: str,
             store: strategies.Store, as_lfs: bool) -> bytes | None:
    """A Parquet file is read whole by pyarrow (not streamed) and cannot grow in place."""
    data = f.read_bytes()
    if logged_before(repo, tip, dest, data, RowFormat.PARQUET, store):
        return None
    if repo.read_file(tip, dest) is not None:
        raise UsageError(f"{f.name} was logged for this release on {dest.split('/')[-2]} "
                         "already, and a Parquet file cannot grow in place: log it under "
                         "another name.")
    return strategies._store(data, as_lfs, strategies.Store(w.common_dir, store.cwd))


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
