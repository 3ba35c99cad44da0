"""Where the policy that judges a change comes from: the trusted side, never the change.

The trusted config is main's `branchml.yaml` (`branchml.trustedRef`), else the remote's main
(what a CI checkout has), else the command fails closed (exit 4): built-in defaults only in a
repository where no `branchml.yaml` exists at all (before `init`). With `branchml.trustedRef`
unset, main is the branch the remote's HEAD names when that branch's own config types it main
(a `git clone` of a master repository), and a local main beside it is refused, not trusted;
the checked-out branch is never the trusted side where a remote exists (any pusher writes a
dev branch). `branchml install` writes the key down, so later commands never guess. When the trusted
config is invalid, every command fails closed with its one sentence, except the checker's
doors (hooks, `branchml check`, entered through `judging()`), which judge under the repair
policy: main may take a commit that changes `branchml.yaml` alone (validated by
ops/configcheck.py), every other branch is frozen, so the fix itself is never refused.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, NamedTuple

from branchml import config
from branchml.core import yamlbounds
from branchml.core.model import BranchKind, Op, PathClass
from branchml.core.names import ref_name_problem
from branchml.core.policy import BranchType, Policy, policy_from_config
from branchml.errors import ConfigError, StateError
from branchml.ops.scaffold import config_for_main
from branchml.repo.reader import Git

DEFAULT_TRUSTED_REF = "refs/heads/main"
# trusted_ref's answer per reader: the remote-HEAD fallback reads a config, once per command
_FOUND: weakref.WeakKeyDictionary[Git, str] = weakref.WeakKeyDictionary()
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
    """`branchml.trustedRef` from git config (the repo's or the server's, never a commit's);
    unset: the branch the remote's HEAD names when its own config types it main
    (`remote_head_main`), else main. A local main beside such a HEAD is refused (StateError):
    `git switch main` makes one from a remote main that any pusher of a master server may
    have created, so its existence proves nothing; only the owner's `--main` decides."""
    if git not in _FOUND:
        git.layout  # noqa: B018  (outside a repository: NotARepository, before any git call)
        ref = git.config("branchml.trustedRef")
        if not ref:
            head = remote_head_main(git)
            if head and git.resolve(DEFAULT_TRUSTED_REF) is not None:
                raise StateError(_two_mains_hint(git, head))
            ref = f"refs/heads/{head}" if head else None
        _FOUND[git] = ref or DEFAULT_TRUSTED_REF
    return _FOUND[git]


def assume(git: Git, ref: str) -> None:
    """The trusted ref for the rest of this command, chosen by the user before it is written
    down (`install --main NAME`): nothing after that guesses, nor refuses to guess."""
    _FOUND[git] = ref


def _two_mains_hint(git: Git, head: str) -> str:
    remote = _remote(git) or "origin"
    return (f"this clone has a local main, but {remote}/HEAD names {head}, whose own "
            f"{config.CONFIG_FILE} types it main, so no policy is trusted until you say "
            f"which is the project's main branch: run `branchml install --main {head}` "
            "(or `--main main`).")


def remote_head_main(git: Git) -> str | None:
    """The branch the remote's HEAD (`refs/remotes/<remote>/HEAD`, which `git clone` writes
    from the host's default branch and no push can change) names, when it is not main and its
    own config types it main (`main_problem`); None otherwise. It outranks a remote branch
    called main, which on a master repository anyone with push access may have created."""
    remote = _remote(git)
    if remote is None:
        return None
    r = git.out("symbolic-ref", "-q", f"refs/remotes/{remote}/HEAD", check=False).strip()
    name = r.removeprefix(f"refs/remotes/{remote}/")
    if not r.startswith(f"refs/remotes/{remote}/") or name in ("HEAD", "main"):
        return None
    sha = git.resolve(r)
    return name if sha and not main_problem(name, _config_at(git, sha, r)) else None


def _config_at(git: Git, sha: str, rev: str) -> dict[str, Any] | None:
    """`rev`'s branchml.yaml as an effective config; None when it is missing or invalid."""
    found = git.cat.info(f"{sha}:{config.CONFIG_FILE}")
    source = f"{rev}:{config.CONFIG_FILE}"
    try:
        if found is None:
            return None
        yamlbounds.check_size(found[1], source)
        return config.load_bytes((git.cat.read(found[0]) or ("", b""))[1], source, _cache(git))
    except ConfigError:
        return None


def main_problem(name: str, cfg: dict[str, Any] | None) -> str:
    """Why `name` cannot be the main branch ("" when it can): a name git refuses, one the
    default config gives another type (dev/x: any pusher writes it), or a branch whose own
    config does not type it main. The rule of `init/install --main` and of `clone`."""
    if ref_name_problem(name) or name == "HEAD":
        return f"{name!r} is not a branch name"
    other = policy_from_config(config.load_bytes(None, "")).branch_type(name)
    if name != "main" and other is not None:
        return f"{name} names a branch of another type ({other.pattern})"
    if cfg is None:
        return f"{name} has no valid {config.CONFIG_FILE}"
    own = policy_from_config(cfg).branch_type(name)
    if own is None or own.kind is not BranchKind.MAIN:
        return f"{name}'s own {config.CONFIG_FILE} does not give it the main type"
    return ""


def main_branch_name(git: Git) -> str:
    return trusted_ref(git).removeprefix("refs/heads/")


def trusted_config(git: Git) -> dict[str, Any]:
    """The effective trusted config as a mapping (for keys the Policy does not model)."""
    with judging(False):
        return load_trusted(git, [trusted_ref(git), "HEAD"]).config


def load_trusted(git: Git, candidates: list[str]) -> TrustedPolicy:
    """The config of the first candidate revision that exists (the trusted ref followed by
    the remote's main); built-in defaults only where no branchml.yaml exists anywhere."""
    head_refused = False
    for rev in _with_remote_main(git, candidates):
        if rev == "HEAD" and head_untrusted(git):
            head_refused = True
            continue
        sha = None if not rev or set(rev) == {"0"} else git.resolve(rev)
        if sha is not None:
            return _load_at(git, rev, sha)
    if _config_anywhere(git):
        unset = not git.config("branchml.trustedRef")
        raise StateError(_install_hint(git) if head_refused and unset else _fetch_hint(git))
    return _trusted(_defaults(git, ""), "built-in defaults")


def head_untrusted(git: Git) -> bool:
    """Whether HEAD may not stand in for a missing main: a remote exists (its branches are
    anyone's pushes) and HEAD is not the main branch itself."""
    return bool(git.out("remote").split()) and git.current_branch() != main_branch_name(git)


def _install_hint(git: Git) -> str:
    remote = _remote(git) or "origin"
    return (f"this clone does not know which branch is main (no main here, and {remote}/HEAD "
            f"names no branch whose own {config.CONFIG_FILE} types it main), so no policy is "
            "trusted: run `branchml install --main NAME` with the project's main branch "
            "(e.g. master).")


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
