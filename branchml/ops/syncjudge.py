"""What `sync` judges before a local typed branch moves: the move as a push would be judged.

A remote without branchml's pre-receive (or a hostile one) can offer any history; a clone
takes it only when the checker that judges a push accepts the move OLD -> NEW (the first-
parent walk and the net change, new branches from their parent), under the policy of the
local main as it was before this sync (for main itself, its old tip's config, as
pre-receive does). The checker verifies a grown LFS file from its objects, so the new
objects of the files the moves grow are fetched first (only those: docs/teams.md); the LFS
gate (every added pointer's object held) is a push's rule and is not applied here.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

from branchml.core.changes import Violation
from branchml.errors import BranchmlError
from branchml.ops.push_check import PushedRef, RefView, check_push
from branchml.ops.trusted import judging, load_trusted, main_branch_name
from branchml.repo import lfs, lfsstore
from branchml.repo.reader import Git

ZERO = "0" * 40
# the parts of branchml.yaml that name commands branchml runs on a user's machine
COMMAND_KEYS = ("validate", "promote.require")
CHECKS_DIR = "monitoring/checks/"


def refusals(g: Git, moves: list[PushedRef], before: dict[str, str],
             main_candidates: list[str]) -> dict[str, Violation]:
    """{ref: first violation} for each move the checker refuses. The moves are judged
    against the refs as they will be after the accepted ones (a new branch may leave its
    parent's new tip); a refused move is taken out and the rest judged again, so no move
    is accepted because of one that will not happen."""
    refused: dict[str, Violation] = {}
    pending = list(moves)
    with judging(False):  # an invalid trusted config already stopped sync before this
        while pending:
            view = RefView(before, pending)
            new = {}
            for u in pending:
                result = check_push(g, [u], view, main_candidates, lfs_objects=False)
                if result.violations:
                    new[u.ref] = result.violations[0]
            if not new:
                break
            refused.update(new)
            pending = [u for u in pending if u.ref not in new]
    return refused


def fetch_grown_objects(g: Git, cwd: Path, moves: list[PushedRef], have: list[str]) -> None:
    """The LFS objects of every pointer the moves modify (along each first-parent walk and
    in each net change), fetched when not here: without them a growth cannot be verified
    and the move would be refused. One `git lfs smudge` per missing object; an object the
    remote lacks stays missing and the checker refuses the move with the fix."""
    if not moves or not lfs.available():
        return
    paths: dict[str, str] = {}  # new blob id -> a path it is at
    for u in moves:
        _modified(g.out("log", "--first-parent", "--raw", "--no-renames", "--no-abbrev", "-z",
                        "--format=", u.new, "--not", *have, "--"), paths)
        if set(u.old) != {"0"}:
            _modified(g.out("diff-tree", "-r", "--no-renames", "-z", u.old, u.new), paths)
    common = g.layout.common_dir
    for blob, pointer in lfsstore.pointers_among(cwd, paths).items():
        lfs.ensure_local(common, cwd, pointer, paths[blob])


def _modified(raw: str, into: dict[str, str]) -> None:
    """{new blob id: path} of each modified file in git's `--raw -z` output."""
    tokens = raw.split("\0")
    for meta, path in pairwise(tokens):
        parts = meta.strip().split()
        if meta.strip().startswith(":") and len(parts) == 5 and parts[4] == "M":
            into.setdefault(parts[3], path)


def reason(v: Violation) -> str:
    """One line: the rule's message, and where it was found."""
    where = " ".join(x for x in (v.path, f"in {v.commit[:10]}" if v.commit else "") if x)
    return f"{v.rule}: {v.message}" + (f" ({where})" if where else "")


def inspect_command(branch: str, old: str | None, remote: str) -> str:
    """The command that lists every violation of the refused move."""
    start = old[:12] if old else "0000"
    return f"branchml check --range {start}..{remote}/{branch} --branch {branch} --json"


def main_commands(g: Git, branches: list[dict[str, Any]]) -> list[str]:
    """The command keys a sync's move of main changes (none when main did not move): the
    remote's branchml.yaml becomes the local policy, and its commands run on the next
    `pull --validate`, `promote` or `monitor check`."""
    main = main_branch_name(g)
    for e in branches:
        if e["branch"] == main and e["action"] == "fast-forwarded":
            return commands_changed(g, e["old"], e["new"])
    return []


def commands_changed(g: Git, old: str, new: str) -> list[str]:
    """The keys of branchml.yaml naming commands branchml runs (validators, promotion
    gates) whose value differs between main at `old` and at `new`, and the monitoring
    checks (`monitoring/checks/*.py` on main) when any of them changed."""
    keys = [k for k in COMMAND_KEYS if _value(g, old, k) != _value(g, new, k)]
    diff = g.out("diff-tree", "-r", "--name-only", "-z", old, new, "--", CHECKS_DIR)
    if any(p for p in diff.split("\0")):
        keys.append(f"{CHECKS_DIR}*.py")
    return keys


def _value(g: Git, sha: str, key: str) -> Any:
    try:
        with judging(False):
            cfg: Any = load_trusted(g, [sha]).config
    except BranchmlError:
        return "(invalid)"
    for part in key.split("."):
        cfg = cfg.get(part) if isinstance(cfg, dict) else None
    if key == "validate" and isinstance(cfg, list):  # a schema's change runs no command
        return [(v.get("glob"), v.get("command")) for v in cfg if isinstance(v, dict)]
    return cfg
