"""The deterministic router for serving code: `Router(client)` reads refs/deploy/<client>
once (primary, candidate, fraction) and sends each key to one release by its bucket
(core/route.py); `refresh()` reads the ref again after a deploy. It routes by what the
deployment's trailers state, the record the server judged and `deployed` prints, and refuses
a deploy.yaml that says otherwise or a tag that is not a release of the client here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from branchml.core import deployrecord
from branchml.core import route as buckets
from branchml.core.bounds import TooLarge
from branchml.core.names import check_client_id
from branchml.errors import StateError, UsageError
from branchml.repo.reader import Git

DEPLOY_YAML_LIMIT = deployrecord.LIMIT
TRAILERS = ("%(trailers:key=Deploy-Primary,valueonly)%x00"
            "%(trailers:key=Deploy-Candidate,valueonly)")


@dataclass(frozen=True)
class Routing:
    """The deployment a router routes by: `commit` is refs/deploy/<client>'s."""

    client: str
    primary: str
    candidate: str | None
    fraction: float | None
    commit: str


def read_routing(path: Path, client: str) -> Routing:
    """refs/deploy/<client>'s deployment, checked as `record_at` checks it."""
    ref = f"refs/deploy/{check_client_id(client)}"
    g = Git(path)
    try:
        sha = g.resolve(ref)
        if sha is None:
            raise UsageError(f"{client} has no deployment to route by (no {ref}); run "
                             f"`branchml deploy --client {client} TAG` first.")
        found = record_at(g, client, sha)
    finally:
        g.close()
    return Routing(client, found.primary, found.candidate, found.fraction, sha)


def record_at(g: Git, client: str, sha: str) -> deployrecord.DeployRecord:
    """The deployment commit `sha` of `client`: what its trailers state, refused (StateError)
    when its deploy.yaml says otherwise or it names a tag that is not a release of `client`
    here. The router, `deployed` and the server (ops/push_refs.py) read a record alike."""
    ref = f"refs/deploy/{client}"
    redo = f"deploy again with `branchml deploy --client {client} TAG`."
    primary, _, candidate = g.out("log", "-1", f"--format={TRAILERS}", sha, "--"
                                  ).partition("\0")
    try:
        blob = g.read_bounded(f"{sha}:deploy.yaml", DEPLOY_YAML_LIMIT, "deploy.yaml")
        text = blob[1].decode("utf-8", "replace") if blob is not None else None
        found = deployrecord.read(client, primary, candidate, text)
    except TooLarge:
        raise StateError(f"{ref} at {sha[:10]} holds a deploy.yaml over "
                         f"{DEPLOY_YAML_LIMIT // 1024} KiB, which `branchml deploy` never "
                         f"writes; {redo}") from None
    except deployrecord.BadRecord as e:
        raise StateError(f"{ref} at {sha[:10]}: the deployment {e}; {redo}") from None
    missing = [t for t in found.tags() if not is_release(g, client, t)]
    if missing:
        raise StateError(f"{ref} at {sha[:10]} names {missing[0]}, which is not a release of "
                         f"{client} here: fetch the release tags (`git fetch --tags`), or "
                         f"{redo}")
    return found


def is_release(g: Git, client: str, name: str) -> bool:
    """`name` is an annotated release tag of `client` here carrying its own manifest."""
    from branchml.ops.release import read_releases, tag_format

    found = read_releases(g, tag_format(g), client, exact=name)
    return any(r.tag == name and (r.manifest or {}).get("tag") == name for r in found)


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
