"""Where the policy that judges a change comes from: the trusted side, never the change."""

from __future__ import annotations

from typing import Any, NamedTuple

from branchml import config
from branchml.core.policy import Policy, policy_from_config
from branchml.repo.reader import Git

DEFAULT_TRUSTED_REF = "refs/heads/main"


class TrustedPolicy(NamedTuple):
    policy: Policy
    source: str  # "<rev>:branchml.yaml" or "built-in defaults"
    config: dict[str, Any]  # the effective config the policy was made from


def trusted_ref(git: Git) -> str:
    """`branchml.trustedRef` from git config (the repo's or the server's, never a commit's)."""
    return git.config("branchml.trustedRef") or DEFAULT_TRUSTED_REF


def main_branch_name(git: Git) -> str:
    return trusted_ref(git).removeprefix("refs/heads/")


def trusted_config(git: Git) -> dict[str, Any]:
    """The effective trusted config as a mapping (for keys the Policy does not model)."""
    cache = git.layout.common_dir / "branchml" / "cache"
    for rev in (trusted_ref(git), "HEAD"):
        if git.resolve(rev):
            found = git.show_file(rev, config.CONFIG_FILE)
            return config.load_bytes(found[1] if found else None, f"{rev}:{config.CONFIG_FILE}",
                                     cache)
    return config.load_bytes(None, "", cache)


def load_trusted(git: Git, candidates: list[str]) -> TrustedPolicy:
    """The config of the first candidate revision that exists; built-in defaults if none."""
    cache = git.layout.common_dir / "branchml" / "cache"
    for rev in candidates:
        if not rev or set(rev) == {"0"}:
            continue
        sha = git.resolve(rev)
        if sha is None:
            continue
        found = git.show_file(sha, config.CONFIG_FILE)
        source = f"{rev}:{config.CONFIG_FILE}"
        raw = found[1] if found else None
        label = source if found else f"built-in defaults ({source} does not exist)"
        return _trusted(config.load_bytes(raw, source, cache), label)
    return _trusted(config.load_bytes(None, "", cache), "built-in defaults")


def _trusted(cfg: dict[str, Any], source: str) -> TrustedPolicy:
    return TrustedPolicy(policy_from_config(cfg), source, cfg)
