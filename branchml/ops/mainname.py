"""Which branch is main: the local git config `branchml.trustedRef` (and a server's, set by
`branchml install --main`), never a file of a tree, so no commit can choose it. Read back by
ops/trusted.py's `trusted_ref`, the one function every door asks."""

from __future__ import annotations

from branchml import config
from branchml.core.names import check_branch_name
from branchml.core.policy import policy_from_config
from branchml.errors import UsageError
from branchml.repo import objectstore

MAIN = "main"
TRUSTED_KEY = "branchml.trustedRef"


def check(main: str) -> None:
    """`--main NAME`: a branch name no other type of the default config matches."""
    check_branch_name(main)
    other = policy_from_config(config.load_bytes(None, "")).branch_type(main)
    if main != MAIN and other is not None:
        raise UsageError(f"--main {main} names a branch of another type ({other.pattern}); "
                         "give the branch that holds the project's main line (e.g. master).")


def choose(repo: objectstore.Repo, given: str | None) -> str:
    """The main branch: `given`, else the one the repository's git config names (set by an
    earlier `init` or `install`), else main. Never read from a tree: a commit cannot choose
    it."""
    ref = repo.config_get(TRUSTED_KEY)
    current = ref.removeprefix("refs/heads/") if ref else None
    if given is None or given == current:
        return current or MAIN
    if current is not None and _set_up(repo, current):
        raise UsageError(f"this repository's main branch is already {current} (git config "
                         f"{TRUSTED_KEY}); run init without --main.")
    if repo.branch_target(given) is None and repo.head_branch() != given:  # unborn HEAD: ok
        names = sorted(b.removeprefix("refs/heads/") for b in repo.pg.references
                       if b.startswith("refs/heads/"))
        raise UsageError(f"--main {given} names no branch of this repository (its branches: "
                         f"{', '.join(names) or 'none'}); give the existing branch that holds "
                         "the project's main line.")
    main_sha = repo.branch_target(MAIN)
    if main_sha is not None and repo.read_file(main_sha, config.CONFIG_FILE) is not None:
        raise UsageError(f"main is already set up by branchml here, so --main {given} would "
                         "leave two policies; run init without --main.")
    return given


def _set_up(repo: objectstore.Repo, branch: str) -> bool:
    """Whether `branch` holds a branchml.yaml: a key naming a branch without one (written by
    `install` before `init`) may still be replaced by `init --main`."""
    sha = repo.branch_target(branch)
    return sha is not None and repo.read_file(sha, config.CONFIG_FILE) is not None
