"""History from before `branchml init .` adopted a repository is not judged.

`init .` on a repository that has commits records the commit it built on (main's tip then)
in the branchml.yaml it writes on main: `adopted: {before: SHA}`, the cut-off. The checker
reads it from the trusted config only (main's, or the server's main), so no push can move
it, and leaves out of every walk the commits that are ancestors of it (`git log ... --not
CUTOFF`, so git itself prunes the walk). A commit that merely claims to be old (old dates, a
copied message) is not an ancestor of the cut-off, and is judged like any other.

A change of branchml.yaml on main is judged by main's config before it (ops/configcheck.py
judges its validity; `watched` here its cut-off): once recorded, the cut-off never changes or
goes away, and one added later must name a commit of main's history.

The first push into an empty server has no trusted config to read it from (built-in defaults
judge it); there, the cut-off of the pushed main is taken when it names a commit of that
main's history without a branchml.yaml, i.e. history from before any policy existed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from branchml import config
from branchml.core.changes import Change, CommitFacts, Violation
from branchml.errors import ConfigError
from branchml.ops.trusted import TrustedPolicy, main_branch_name
from branchml.repo.reader import Git

KEY = "adopted"
F = config.CONFIG_FILE
RULE = "adoption-cutoff"


def recorded(cfg: dict[str, object]) -> str | None:
    """The cut-off a config records (None: none)."""
    entry = cfg.get(KEY)
    before = entry.get("before") if isinstance(entry, dict) else None
    return before if isinstance(before, str) else None


def cutoff(git: Git, trusted: TrustedPolicy) -> str | None:
    """The trusted cut-off when it names a commit that is here (None: nothing is left out; a
    CI clone without the old history has nothing of it to judge anyway)."""
    before = recorded(trusted.config)
    return before if before and _is_commit(git, before) else None


def excluded(git: Git, trusted: TrustedPolicy) -> list[str]:
    """What every walk of the checker adds to its `--not` list."""
    before = cutoff(git, trusted)
    return [before] if before else []


def first_push(git: Git, trusted: TrustedPolicy, new_main: str | None,
               had_branches: bool) -> TrustedPolicy:
    """`trusted`, with the pushed main's cut-off when the push creates main in a repository
    that has no branch and no branchml.yaml (its first push), and that cut-off is a commit of
    the pushed main's history holding no branchml.yaml."""
    if (new_main is None or had_branches or recorded(trusted.config)
            or not trusted.source.startswith("built-in defaults")):
        return trusted
    found = git.cat.info(f"{new_main}:{F}")
    if found is None:
        return trusted
    try:
        cfg = config.load_bytes((git.cat.read(found[0]) or ("", b""))[1], F, _cache(git))
    except ConfigError:
        return trusted  # refused as config-invalid when main is judged
    before = recorded(cfg)
    if (before is None or not _is_commit(git, before)
            or not git.is_ancestor(before, new_main) or git.cat.info(f"{before}:{F}")):
        return trusted
    return trusted._replace(config={**trusted.config, KEY: {"before": before}},
                            source=f"{trusted.source}, adopted before {before[:10]}")


def watched(git: Git, branch: str, commits: Iterable[CommitFacts], trusted: TrustedPolicy,
            violations: list[Violation]) -> Iterable[CommitFacts]:
    """`commits`, watched: on main, a branchml.yaml that changes, removes or adds a cut-off
    not in main's history adds a violation."""
    if branch != main_branch_name(git):
        return commits
    return _watch(git, branch, commits, recorded(trusted.config), violations)


def _watch(git: Git, main: str, commits: Iterable[CommitFacts], current: str | None,
           violations: list[Violation]) -> Iterator[CommitFacts]:
    for commit in commits:
        for change in commit.changes:
            if change.path != F:
                continue
            valid, new = _new_cutoff(git, change)
            if not valid:
                continue  # config-invalid says why
            why = _problem(git, commit, current, new)
            if why:
                violations.append(Violation(RULE, why, commit.sha, F, main))
            else:
                current = new
        yield commit


def _new_cutoff(git: Git, change: Change) -> tuple[bool, str | None]:
    """Whether the changed branchml.yaml is a valid config, and the cut-off it records (None:
    none, or the file was deleted)."""
    if change.status == "D":
        return True, None
    raw = git.cat.read(change.new_oid)
    if raw is None:
        return False, None
    try:  # parsed (and cached) already by the validity check, so this is a cache read
        cfg = config.load_bytes(raw[1], F, _cache(git))
    except ConfigError:
        return False, None
    return True, recorded(cfg)


def _problem(git: Git, commit: CommitFacts, current: str | None, new: str | None) -> str | None:
    if current is not None and new != current:
        now = f"names {new[:10]}" if new else "removes it"
        return (f"the adoption cut-off ({KEY}.before: {current[:10]}) may not change once "
                f"recorded, and this {F} {now}: put back `{KEY}: {{before: {current}}}`")
    if current is None and new is not None:
        base = commit.parent if commit.sha else "HEAD"  # staged: the commit to be made's parent
        if (not base or not _is_commit(git, new)
                or not git.is_ancestor(new, base)):
            return (f"the adoption cut-off {new[:10]} ({KEY}.before) is not a commit of main's "
                    f"history: name the commit main pointed at when the repository was adopted")
    return None


def _cache(git: Git) -> Path:
    return git.layout.common_dir / "branchml" / "cache"


def _is_commit(git: Git, sha: str) -> bool:
    """Whether `sha` is a commit here, asked of the cat-file process already running (the
    checker asks this once per branch of a push; a `git cat-file -t` each would fork)."""
    found = git.cat.info(f"{sha}^{{commit}}")
    return found is not None and found[0] == sha
