"""The deterministic router for serving code: `Router(client)` reads refs/deploy/<client>
once (primary, candidate, fraction) and sends each key to one release by its bucket
(core/route.py); `refresh()` reads the ref again after a deploy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from branchml.core import route as buckets
from branchml.core.names import check_client_id
from branchml.core.yamlload import load
from branchml.errors import ConfigError, StateError, UsageError
from branchml.repo.reader import Git

DEPLOY_YAML_LIMIT = 64 * 1024  # deploy.yaml is three lines: a larger one is not ours


@dataclass(frozen=True)
class Routing:
    """The deployment a router routes by: `commit` is refs/deploy/<client>'s."""

    client: str
    primary: str
    candidate: str | None
    fraction: float | None
    commit: str


def read_routing(path: Path, client: str) -> Routing:
    """refs/deploy/<client>'s deploy.yaml, checked."""
    ref = f"refs/deploy/{check_client_id(client)}"
    g = Git(path)
    try:
        sha = g.resolve(ref)
        if sha is None:
            raise UsageError(f"{client} has no deployment to route by (no {ref}); run "
                             f"`branchml deploy --client {client} TAG` first.")
        blob = g.read_bounded(f"{sha}:deploy.yaml", DEPLOY_YAML_LIMIT, "deploy.yaml")
    finally:
        g.close()
    data: Any = None
    if blob is not None:
        import yaml

        try:
            data = load(blob[1].decode("utf-8", "replace"), ref)
        except (yaml.YAMLError, ConfigError):  # not YAML, or past the YAML limits
            data = None
    if not isinstance(data, dict) or not isinstance(data.get("primary"), str):
        raise StateError(f"{ref} holds no readable deploy.yaml with a primary release; "
                         f"deploy again with `branchml deploy --client {client} TAG`.")
    candidate, fraction = data.get("candidate"), data.get("fraction")
    if candidate is not None and (not isinstance(candidate, str)
                                  or not isinstance(fraction, int | float)
                                  or isinstance(fraction, bool) or not 0 < fraction < 1):
        raise StateError(f"{ref} names candidate {candidate!r} without a fraction between 0 "
                         "and 1; deploy again with --canary and --fraction.")
    share = float(fraction) if candidate is not None and fraction is not None else None
    return Routing(client, data["primary"], candidate, share, sha)


class Router:
    """Routes keys of `client` to its deployed releases: the same key, the same release;
    a share `fraction` of keys to the candidate. Reads the deploy ref once (and again on
    `refresh()`), so routing a key costs one hash: a few microseconds."""

    def __init__(self, client: str, path: str | Path = ".") -> None:
        self.client, self.path = client, Path(path)
        self.refresh()

    def refresh(self) -> Routing:
        """Read refs/deploy/<client> again (after a deploy, a rollback or a sync)."""
        self.routing = read_routing(self.path, self.client)
        self._hasher = buckets.hasher(self.client)
        # 8 big-endian bytes compare as the numbers they spell: no int per key
        self._cut = buckets.cut(self.routing.fraction).to_bytes(8, "big")
        return self.routing

    def route(self, key: buckets.Key) -> str:
        """The release tag that serves `key` (a str, an int spelled in decimal, or bytes)."""
        r = self.routing
        data = key.encode("utf-8", "surrogatepass") if type(key) is str \
            else buckets.key_bytes(key)  # str first: the common key, without a call
        if r.candidate is None:
            return r.primary
        h = self._hasher.copy()
        h.update(data)
        return r.candidate if h.digest() < self._cut else r.primary
