"""History from before `branchml init .` adopted a repository is not judged.

`init .` on a repository that has commits records the commit it built on (main's tip then)
in the branchml.yaml it writes on main: `adopted: {before: SHA}`, the cut-off. The checker
reads it from the trusted config only (main's, or the server's main), so no push can move
it, and leaves out of every walk the commits that are ancestors of it (`git log ... --not
CUTOFF`, so git itself prunes the walk). A commit that merely claims to be old (old dates, a
copied message) is not an ancestor of the cut-off, and is judged like any other.

A change of branchml.yaml on main is judged against the config before it (ops/configcheck.py
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
from branchml.core import bounds
from branchml.core.changes import CommitFacts, Violation
from branchml.errors import ConfigError
from branchml.ops.trusted import TrustedPolicy, main_branch_name
from branchml.repo.reader import Git

KEY = "adopted"
# where first_push puts the pushed main's cut-off, beside the trusted config's own key: it
# was recorded by the push, not by the trusted side
PUSHED = "_adopted_in_first_push"
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
    before = recorded(trusted.config) or trusted.config.get(PUSHED)
    return before if isinstance(before, str) and _is_commit(git, before) else None


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
    try:  # its size first: one over the limit is never read
        found = git.read_bounded(f"{new_main}:{F}", bounds.CONFIG, F)
        if found is None:
            return trusted
        cfg = config.load_bytes(found[1], F, _cache(git))
    except (ConfigError, bounds.TooLarge):
        return trusted  # refused as config-invalid when main is judged
    before = recorded(cfg)
    if (before is None or not _is_commit(git, before)
            or not git.is_ancestor(before, new_main) or git.cat.info(f"{before}:{F}")):
        return trusted
    return trusted._replace(config={**trusted.config, PUSHED: before},
                            source=f"{trusted.source}, adopted before {before[:10]}")


def watched(git: Git, branch: str, commits: Iterable[CommitFacts],
            violations: list[Violation]) -> Iterable[CommitFacts]:
    """`commits`, watched: on main, a branchml.yaml that changes or removes the cut-off its
    commit's first parent recorded, or adds one that is not in main's history, adds a
    violation. Each commit is compared with its own first parent, so a walk that does not
    start at main's old tip compares nothing with what it left out: that is the net change
    from the old tip, which the checker judges in that case (ops/check.py)."""
    if branch != main_branch_name(git):
        return commits
    return _watch(git, branch, commits, violations)


def _watch(git: Git, main: str, commits: Iterable[CommitFacts], violations: list[Violation]
           ) -> Iterator[CommitFacts]:
    for commit in commits:
        for change in commit.changes:
            if change.path != F:
                continue
            valid, new = (True, None) if change.status == "D" else _in_blob(git, change.new_oid)
            if not valid:
                continue  # config-invalid says why
            base = commit.parent if commit.sha else "HEAD"  # staged: the next commit's parent
            why = _problem(git, base, _at(git, base), new)
            if why:
                violations.append(Violation(RULE, why, commit.sha, F, main))
        yield commit


def _in_blob(git: Git, oid: str) -> tuple[bool, str | None]:
    """Whether the blob is a valid config, and the cut-off it records."""
    try:  # parsed (and cached) already by the validity check, so this is a cache read;
        raw = git.read_bounded(oid, bounds.CONFIG, F)  # one over the limit is never read
        if raw is None:
            return False, None
        return True, recorded(config.load_bytes(raw[1], F, _cache(git)))
    except (ConfigError, bounds.TooLarge):
        return False, None


def _at(git: Git, rev: str) -> str | None:
    """The cut-off branchml.yaml records at `rev` (None: none, no file, not a valid config)."""
    found = git.cat.info(f"{rev}:{F}") if rev else None
    return _in_blob(git, found[0])[1] if found else None


def _problem(git: Git, base: str, before: str | None, new: str | None) -> str | None:
    if before is not None and new != before:
        now = f"names {new[:10]}" if new else "removes it"
        return (f"the adoption cut-off ({KEY}.before: {before[:10]}) may not change once "
                f"recorded, and this {F} {now}: put back `{KEY}: {{before: {before}}}`")
    if before is None and new is not None and (
            not base or not _is_commit(git, new) or not git.is_ancestor(new, base)):
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
