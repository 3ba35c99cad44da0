"""`branchml graph`: the branches by type (from main's trusted config), the moves between
them (ops/graphfacts.py), the newest releases per client (tags and their manifests, one
`for-each-ref`) and the deployment on each refs/deploy/<client>; written to a file as text,
or drawn by Graphviz's `dot` (core/graphrender.py renders; graphfile.py writes)."""

from __future__ import annotations

from pathlib import Path

from branchml.core.graph import Fact, Graph, Node, build
from branchml.core.model import BranchKind
from branchml.core.names import ref_name_problem
from branchml.core.policy import Policy
from branchml.errors import BranchmlError, UsageError
from branchml.ops import graphfacts
from branchml.ops.release import Release, read_releases, tag_format
from branchml.ops.route import TRAILERS, record_at
from branchml.ops.trusted import load_trusted, trusted_ref
from branchml.repo.reader import Git

RELEASES = 5  # the newest releases drawn per client (`--releases K`)


def graph(path: Path, releases: int = RELEASES) -> Graph:
    """The graph of the repository at `path`: facts from trailers and manifests only."""
    if releases < 1:
        raise UsageError(f"--releases {releases} must be at least 1.")
    g = Git(path)
    try:
        policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
        main = trusted_ref(g).removeprefix("refs/heads/")
        branches = sorted(ref.removeprefix("refs/heads/") for ref in g.refs("refs/heads/"))
        carriers, cut = graphfacts.walk(g, branches)
        facts = graphfacts.facts(g, policy, carriers, main)
        deploy_nodes, deploy_facts = deployments(g)
        named = {f.src for f in deploy_facts}
        release_nodes, release_facts, release_cut = _releases(g, policy, releases, named)
        nodes = [Node(b, group(policy, b), b) for b in branches]
        nodes += [Node(n, group(policy, n), n) for f in facts for n in (f.src, f.dst)
                  if not ref_name_problem(n)]
        nodes += [Node(f.src, group(policy, f.src), f.src) for f in release_facts
                  if not ref_name_problem(f.src)]  # a stable branch deleted since
        return build([*nodes, *release_nodes, *deploy_nodes],
                     [*facts, *release_facts, *deploy_facts], [*cut, *release_cut])
    finally:
        g.close()


def group(policy: Policy, branch: str) -> str:
    """A branch's group: its type's kind in the trusted config, else `untyped`."""
    bt = policy.branch_type(branch)
    return str(bt.kind) if bt is not None else "untyped"


def _releases(g: Git, policy: Policy, keep: int, deployed: set[str]
              ) -> tuple[list[Node], list[Fact], list[str]]:
    """The newest `keep` releases of each client (and any older one a deploy ref names),
    each a node with its model id, and an edge from the stable branch its manifest names."""
    by_client: dict[str, list[Release]] = {}
    for rel in read_releases(g, tag_format(g)):
        if rel.manifest is not None:
            by_client.setdefault(rel.client, []).append(rel)
    nodes: list[Node] = []
    facts: list[Fact] = []
    cut: list[str] = []
    for client, rels in sorted(by_client.items()):
        shown = [r for i, r in enumerate(reversed(rels)) if i < keep or r.tag in deployed]
        if len(shown) < len(rels):
            cut.append(f"{client}: the newest {keep} of its {len(rels)} releases are drawn "
                       "(--releases K draws more)")
        for rel in reversed(shown):
            model = rel.to_dict().get("model_id")
            label = rel.tag + (f"\nmodel {str(model)[:8]}" if model else "")
            nodes.append(Node(rel.tag, "releases", label))
            branch = str(rel.manifest.get("branch", "")) if rel.manifest else ""
            facts.append(Fact("release", branch, rel.tag, rel.date,
                              _release_why(g, policy, rel, branch)))
    return nodes, facts, cut


def _release_why(g: Git, policy: Policy, rel: Release, branch: str) -> str:
    """"" when the manifest is the tag's own and names a stable branch that holds the
    tagged commit (what `branchml verify` proves of the `branch` field)."""
    m = rel.manifest or {}
    if m.get("tag") != rel.tag or m.get("commit") != rel.commit:
        return f"{rel.tag} carries a manifest that is not its own"
    bt = policy.branch_type(branch)
    if bt is None or bt.kind is not BranchKind.STABLE or ref_name_problem(branch):
        return f"{branch!r} is not a stable branch of the trusted config"
    tips = [t for t in (g.resolve(f"refs/heads/{branch}"),
                        g.resolve(f"refs/remotes/origin/{branch}")) if t]
    if not any(g.is_ancestor(rel.commit, tip) for tip in tips):
        return f"{rel.commit[:10]} is not on {branch} here"
    return ""


def deployments(g: Git) -> tuple[list[Node], list[Fact]]:
    """Each refs/deploy/<client>: a node with what it runs now, an edge from its primary
    release and one from its canary; unproven when the router would refuse the record
    (ops/route.py `record_at`: trailers and deploy.yaml disagree, or no such release)."""
    nodes: list[Node] = []
    facts: list[Fact] = []
    for ref, sha in sorted(g.refs("refs/deploy/").items()):
        client = ref.removeprefix("refs/deploy/")
        name = f"deploy/{client}"
        date = g.out("log", "-1", "--format=%cI", sha, "--", check=False).strip()
        why = ""
        try:
            found = record_at(g, client, sha)
            primary, candidate, fraction = found.primary, found.candidate, found.fraction
        except BranchmlError as e:
            why = str(e)
            primary, candidate, fraction = _stated(g, sha)
        state = primary + (f" + canary {candidate} at {fraction:g}" if candidate else "")
        nodes.append(Node(name, "deployments", f"{name}\n{state}" if state else name))
        if primary:
            facts.append(Fact("deploy", primary, name, date, why))
        if candidate:
            facts.append(Fact("canary", candidate, name, date, why, f"{fraction:g}"))
    return nodes, facts


def _stated(g: Git, sha: str) -> tuple[str, str | None, float]:
    """What a record's trailers say, read plainly (its first words), for an unproven edge."""
    primary, _, candidate = g.out("log", "-1", f"--format={TRAILERS}", sha, "--",
                                  check=False).partition("\0")
    words, cand = primary.split(), candidate.split()
    try:
        fraction = float(cand[1]) if len(cand) > 1 else 0.0
    except ValueError:
        fraction = 0.0
    return (words[0] if words else ""), (cand[0] if cand else None), fraction
