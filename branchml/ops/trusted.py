"""Where the policy that judges a change comes from: the trusted side, never the change.

The trusted config is main's `branchml.yaml` (`branchml.trustedRef`), else the remote's main
(what a CI checkout has), else the command fails closed (exit 4): built-in defaults only in a
repository where no `branchml.yaml` exists at all (before `init`). When the trusted config is
invalid, every command fails closed with its one sentence, except the checker's doors (hooks,
`branchml check`, entered through `judging()`), which judge under the repair policy: main may
take a commit that changes `branchml.yaml` alone (validated by ops/configcheck.py), every other
branch is frozen, so the fix itself is never refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NamedTuple

from branchml import config
from branchml.core import yamlbounds
from branchml.core.model import BranchKind, Op, PathClass
from branchml.core.policy import BranchType, Policy, policy_from_config
from branchml.errors import ConfigError, StateError
from branchml.ops.scaffold import config_for_main
from branchml.repo.reader import Git

DEFAULT_TRUSTED_REF = "refs/heads/main"
_JUDGING: ContextVar[bool] = ContextVar("branchml_judging", default=False)


class TrustedPolicy(NamedTuple):
    policy: Policy
    source: str  # "<rev>:branchml.yaml" or "built-in defaults"
    config: dict[str, Any]  # the effective config the policy was made from
    broken: str = ""  # the trusted config's error, under the repair policy (checker only)


@contextmanager
def judging(value: bool = True) -> Iterator[None]:
    """The checker's doors: an invalid trusted config gives the repair policy, not an error
    (`judging(False)`: not here, even inside a door)."""
    token = _JUDGING.set(value)
    try:
        yield
    finally:
        _JUDGING.reset(token)


def trusted_ref(git: Git) -> str:
    """`branchml.trustedRef` from git config (the repo's or the server's, never a commit's)."""
    return git.config("branchml.trustedRef") or DEFAULT_TRUSTED_REF


def main_branch_name(git: Git) -> str:
    return trusted_ref(git).removeprefix("refs/heads/")


def trusted_config(git: Git) -> dict[str, Any]:
    """The effective trusted config as a mapping (for keys the Policy does not model)."""
    with judging(False):
        return load_trusted(git, [trusted_ref(git), "HEAD"]).config


def load_trusted(git: Git, candidates: list[str]) -> TrustedPolicy:
    """The config of the first candidate revision that exists (the trusted ref followed by
    the remote's main); built-in defaults only where no branchml.yaml exists anywhere."""
    for rev in _with_remote_main(git, candidates):
        sha = None if not rev or set(rev) == {"0"} else git.resolve(rev)
        if sha is not None:
            return _load_at(git, rev, sha)
    if _config_anywhere(git):
        raise StateError(_fetch_hint(git))
    return _trusted(_defaults(git, ""), "built-in defaults")


def _with_remote_main(git: Git, candidates: list[str]) -> Iterator[str]:
    ref = trusted_ref(git)
    for rev in candidates:
        yield rev
        if rev == ref and ref.startswith("refs/heads/"):
            remote = _remote(git)
            if remote:
                yield f"refs/remotes/{remote}/{main_branch_name(git)}"


def _remote(git: Git) -> str | None:
    """origin, else the only remote (None: no remote, or several and none is origin)."""
    names = git.out("remote").split()
    return "origin" if "origin" in names else names[0] if len(names) == 1 else None


def _load_at(git: Git, rev: str, sha: str) -> TrustedPolicy:
    source = f"{rev}:{config.CONFIG_FILE}"
    found = git.cat.info(f"{sha}:{config.CONFIG_FILE}")
    if found is None:
        label = f"built-in defaults ({source} does not exist)"
        return _trusted(_defaults(git, source), label)
    try:
        yamlbounds.check_size(found[1], source)  # before the blob is read into memory
        raw = (git.cat.read(found[0]) or ("", b""))[1]
        return _trusted(config.load_bytes(raw, source, _cache(git)), source)
    except ConfigError as e:
        main = main_branch_name(git)
        if _JUDGING.get():
            return TrustedPolicy(repair_policy(main), f"{source}, invalid: repair only", {},
                                 str(e))
        raise ConfigError(repair_hint(str(e), main)) from None


def _defaults(git: Git, source: str) -> dict[str, Any]:
    """The built-in defaults, with the main branch the git config names (`init --main
    master`, `install --main master`) as the main type: a server's first push of such a
    repository is judged with master as main, not as a branch of no type."""
    main = main_branch_name(git)
    text = None if main == "main" else config_for_main(config.default_config_text(), main)
    return config.load_bytes(text.encode() if text else None, source, _cache(git))


def repair_hint(error: str, main: str) -> str:
    """The trusted config's error, and the one way out."""
    return (f"{error.rstrip('.')}; until it is valid, {main} accepts only a commit that "
            f"changes {config.CONFIG_FILE} alone and makes it valid.")


def repair_policy(main: str) -> Policy:
    """While the trusted config is invalid: on main only branchml.yaml may be added or
    modified; every other branch (one to eight name parts) is protected and may change
    nothing, so no deletion, force-push or commit gets through on a policy nobody can read."""
    only_config = {PathClass.CONFIG: frozenset({Op.ADD, Op.MODIFY})}
    frozen = tuple(BranchType("/".join(["*"] * n), BranchKind.DATA, main, True, {})
                   for n in range(1, 9))
    # the default classes name what else a refused change touched; config is branchml.yaml only
    others = policy_from_config(config.load_bytes(None, "")).path_classes
    return Policy(
        path_classes=((PathClass.CONFIG, (config.CONFIG_FILE,)),
                      *((c, g) for c, g in others if c is not PathClass.CONFIG)),
        default_class=PathClass.CODE,
        branch_types=(BranchType(main, BranchKind.MAIN, None, True, only_config), *frozen),
        lfs_classes=frozenset(),
        unknown_branches="reject",
    )


def _config_anywhere(git: Git) -> bool:
    """Whether HEAD or any local or remote-tracking branch holds a branchml.yaml."""
    tips = git.out("for-each-ref", "--format=%(objectname)", "refs/heads", "refs/remotes")
    return any(git.cat.info(f"{rev}:{config.CONFIG_FILE}") is not None
               for rev in ["HEAD", *tips.split()] if git.resolve(rev))


def _fetch_hint(git: Git) -> str:
    ref, main, remote = trusted_ref(git), main_branch_name(git), _remote(git)
    why = (f"{remote}'s {main} was not fetched" if remote
           else "no remote is set" if not git.out("remote") else "no remote is named origin")
    return (f"the trusted {config.CONFIG_FILE} is not here: {ref} does not exist and {why}; "
            f"fetch it (`git fetch {remote or 'origin'} {main}:{main}`, in CI before "
            "`branchml check`) and run again.")


def _cache(git: Git) -> Path:
    return git.layout.common_dir / "branchml" / "cache"


def _trusted(cfg: dict[str, Any], source: str) -> TrustedPolicy:
    return TrustedPolicy(policy_from_config(cfg), source, cfg)
