"""The raw branch's uploads and the rows each added, read from its history in one `git log`.

An upload is a non-merge commit's added or grown data file of a row format. The rows it
added: the records after the previous version's bytes when those are a byte prefix of the
new version (the append-only policy of raw), else the multiset difference of the two
versions' rows. A file in git-lfs grown many times is streamed once, newest version only:
a running SHA-256, copied at each older version's size, proves that version a prefix (its
pointer names its SHA-256 and size), and each record goes to the upload whose byte range
holds it. When any older version is not a prefix (a rewrite, made by hand), its versions are
read one by one instead: slower, still right. Merge commits are not uploads: the commits
they join are read themselves (a merge's parents, swapped or not, change nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from branchml.core import rowindex
from branchml.core.model import BranchKind, PathClass
from branchml.core.policy import Policy
from branchml.core.rowindex import REGULAR
from branchml.core.rows import RowFormat, format_for
from branchml.core.rowstream import LINE_FORMATS
from branchml.errors import UsageError
from branchml.ops import rowsource
from branchml.ops.rowsource import Version
from branchml.repo import lfs, proc
from branchml.repo.reader import Git


@dataclass
class Upload:
    commit: str
    author: str
    email: str
    date: str
    file: str
    rows: int = 0  # rows it added

    def to_dict(self) -> dict[str, Any]:
        return {"commit": self.commit, "author": self.author, "email": self.email,
                "date": self.date, "file": self.file, "upload_rows": self.rows}


@dataclass
class Event:
    upload: int  # index into the uploads list
    path: str
    fmt: RowFormat
    old: Version | None
    new: Version


def raw_branch(cfg: dict[str, Any], given: str | None) -> str:
    """--raw, else the data branch whose parent is main's type in the trusted config."""
    if given:
        return given
    branches = cfg.get("branches") or {}
    mains = {p for p, s in branches.items() if s.get("type") == BranchKind.MAIN}
    found = [p for p, s in branches.items() if s.get("type") == BranchKind.DATA
             and s.get("parent") in mains and "*" not in p]
    return found[0] if found else "raw"


def raw_tip(g: Git, raw: str) -> str:
    tip = g.resolve(f"refs/heads/{raw}^{{commit}}")
    if tip is None:
        raise UsageError(f"there is no {raw} branch here: name the raw branch with --raw, or "
                         f"fetch it (`git fetch origin {raw}:{raw}`).")
    return tip


def read_events(g: Git, policy: Policy, formats: dict[str, str], tip: str
                ) -> tuple[list[Upload], list[Event], set[str]]:
    """The uploads in history order, the file changes behind them, and the data files of
    no row format (counted, not read)."""
    raw = proc.run(["git", "log", "--reverse", "--topo-order", "--no-merges", "--raw", "-z",
                    "--no-abbrev", "--no-renames", f"--format={rowindex.LOG_FORMAT}", tip,
                    "--"], cwd=g.cwd).stdout
    uploads: list[Upload] = []
    events: list[Event] = []
    not_rows: set[str] = set()
    for c in rowindex.parse_log(raw):
        for ch in c.changes:
            if ch.status not in "AMT" or policy.classify(ch.path) is not PathClass.DATA:
                continue
            fmt = format_for(ch.path, formats)
            if fmt not in LINE_FORMATS or ch.new_mode not in REGULAR:
                not_rows.add(ch.path)
                continue
            assert fmt is not None
            new = rowsource.version(g, ch.new_oid)
            if new is None:
                continue  # a shallow or partial clone: the object is not here
            old = rowsource.version(g, ch.old_oid) if ch.status != "A" and \
                ch.old_mode in REGULAR else None
            events.append(Event(len(uploads), ch.path, fmt, old, new))
            uploads.append(Upload(c.sha, c.author, c.email, c.date, ch.path))
    return uploads, events, not_rows


def fetch_lfs(g: Git, tip: str, events: list[Event]) -> None:
    """The missing LFS objects of the raw tip in one `git lfs fetch` (best effort)."""
    pointers = [e.new.pointer for e in events if e.new.pointer is not None]
    lfs.fetch_missing(g.layout.common_dir, g.cwd, tip, pointers)


def chains(events: list[Event]) -> Iterator[list[Event]]:
    """The events grouped into chains of one path's versions, each event's old version the
    previous one's new; every event in exactly one chain, oldest first. The newest events
    end chains; a fork (two growths of one version) leaves the older one a chain of its own
    on top of that version."""
    made: dict[tuple[str, str], Event] = {}
    for e in events:
        made[(e.path, e.new.blob)] = e
    seen: set[int] = set()
    for e in reversed(events):
        if e.upload in seen:
            continue
        chain = [e]
        seen.add(e.upload)
        while (old := chain[-1].old) is not None:
            prev = made.get((e.path, old.blob))
            if prev is None or prev.upload in seen or prev.upload >= chain[-1].upload:
                break
            chain.append(prev)
            seen.add(prev.upload)
        yield chain[::-1]
