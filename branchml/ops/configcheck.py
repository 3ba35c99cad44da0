"""The main-config judgement: a change to main's branchml.yaml is validated (schema and
limits) before any door accepts it, and while the trusted config is invalid only its repair
is accepted (see ops/trusted.py for the repair policy).

The checker calls `judged_config` once, from `_judge`, around the stream of commits it is
about to judge: the commits pass through unchanged while each new branchml.yaml on main is
validated, so nothing is read twice and a range is still one `git log`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from branchml import config
from branchml.core import yamlbounds
from branchml.core.changes import Change, CommitFacts, Violation
from branchml.errors import ConfigError
from branchml.ops.trusted import TrustedPolicy, main_branch_name, repair_hint
from branchml.repo.reader import Git

F = config.CONFIG_FILE
_FILE_MODES = ("100644", "100755")
_KINDS = {"120000": "symbolic link", "160000": "submodule", "040000": "folder"}


def judged_config(git: Git, branch: str, commits: Iterable[CommitFacts], trusted: TrustedPolicy,
                  violations: list[Violation]) -> Iterable[CommitFacts]:
    """`commits`, watched: on main, every new branchml.yaml that is not a valid config adds a
    violation; under the repair policy, any other change adds the one that says why. A branch
    other than main cannot be judged while the trusted config is invalid (ConfigError)."""
    main = main_branch_name(git)
    if trusted.broken and branch != main:
        raise ConfigError(repair_hint(trusted.broken, main))
    if branch != main:
        return commits
    return _watch(git, main, commits, trusted, violations)


def _watch(git: Git, main: str, commits: Iterable[CommitFacts], trusted: TrustedPolicy,
           violations: list[Violation]) -> Iterator[CommitFacts]:
    verdicts: dict[str, str | None] = {}  # blob id -> why it is refused (None: valid)
    explained = not trusted.broken
    for commit in commits:
        for change in commit.changes:
            why = _new_config_problem(git, change, verdicts, main)
            if why:
                violations.append(Violation("config-invalid", why, commit.sha, F, main))
            if not explained and (why or change.path != F or change.status == "D"):
                violations.append(Violation("config-repair-only", _repair_only(trusted, main),
                                            commit.sha, "", main))
                explained = True
        yield commit


def _new_config_problem(git: Git, change: Change, verdicts: dict[str, str | None],
                        main: str) -> str | None:
    if change.path != F or change.status == "D":
        return None
    if change.new_mode not in _FILE_MODES:  # a symlink's target or a submodule's commit
        kind = _KINDS.get(change.new_mode, f"mode {change.new_mode} entry")
        return f"{F} must be a regular file, not a {kind}"
    if change.new_oid not in verdicts:
        verdicts[change.new_oid] = (validate_blob(git, change.new_oid)
                                    or _other_main(git, change.new_oid, main))
    return verdicts[change.new_oid]


def _other_main(git: Git, oid: str, main: str) -> str | None:
    """Which branch is main is the git config's to say (branchml.trustedRef), not a file's:
    main's config must give type main to that branch, else main would judge itself as a
    branch of no type and the file would name a main nobody trusts."""
    from branchml.core.names import pattern_matches

    raw = (git.cat.read(oid) or ("", b""))[1]  # valid, so parsed from the cache
    cfg = config.load_bytes(raw, F, git.layout.common_dir / "branchml" / "cache")
    named = [p for p, spec in cfg["branches"].items() if spec["type"] == "main"]
    if not named or pattern_matches(named[0], main):
        return None
    return (f"{F} gives type main to {named[0]!r}, but this repository's main branch is "
            f"{main} (git config branchml.trustedRef): keep `{main}: {{type: main}}`")


def validate_blob(git: Git, oid: str) -> str | None:
    """Why the blob `oid` is not a valid branchml.yaml (None: valid). A valid one is cached,
    so the first command that trusts it later does not parse it again."""
    size = git.cat.size(oid)
    if size is None:
        return f"the new {F} ({oid[:10]}) is not in this repository"
    try:
        yamlbounds.check_size(size, F)  # before the blob is read into memory
        raw = (git.cat.read(oid) or ("", b""))[1]
        config.load_bytes(raw, F, git.layout.common_dir / "branchml" / "cache")
    except ConfigError as e:
        return f"{F} is not a valid config: {str(e).removeprefix(F + ': ').rstrip('.')}"
    return None


def _repair_only(trusted: TrustedPolicy, main: str) -> str:
    return (f"the trusted config is invalid ({trusted.broken.rstrip('.')}); until it is valid, "
            f"{main} accepts only commits that change {F} alone and make it valid")
