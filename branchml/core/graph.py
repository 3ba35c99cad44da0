"""`branchml graph`'s picture as plain data: nodes (branches by type, release tags, deploy
refs) and edges (promotions, pulls, tracking copies, releases, deployments), each edge a
fact read from a trailer or a manifest. Facts about the same pair are aggregated into one
edge with a count and the newest date; a fact whose claim could not be proven is kept, in an
edge of its own marked unverified, so a forged trailer is shown for what it is, never
dropped and never drawn as proven."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, TypedDict

# the node groups, in the order they are drawn: the branch kinds, then the release refs
BRANCH_GROUPS = ("main", "data", "code", "stable", "monitoring", "analysis", "untyped")
GROUPS = (*BRANCH_GROUPS, "releases", "deployments")
# the edge kinds, in the order the text form lists them
KINDS = ("promotion", "pull", "track", "release", "deploy", "canary")


class Fact(NamedTuple):
    """One claim read from the repository: `src` -> `dst` of `kind`, dated `date` (ISO);
    `why` is empty when proven, else why it could not be."""

    kind: str
    src: str
    dst: str
    date: str
    why: str = ""
    note: str = ""  # shown beside the edge (a canary's fraction)


class NodeDict(TypedDict):
    id: str
    name: str
    group: str
    label: str


class EdgeDict(TypedDict):
    kind: str
    src: str
    dst: str
    count: int
    newest: str
    verified: bool
    why: str
    note: str


class GraphDict(TypedDict):
    nodes: list[NodeDict]
    edges: list[EdgeDict]
    cut: list[str]


@dataclass(frozen=True)
class Node:
    name: str  # the branch, tag or deploy ref as git names it (never trusted as syntax)
    group: str  # one of GROUPS
    label: str  # what is drawn: the name, and for a tag its model, for a deploy its state


@dataclass(frozen=True)
class Edge:
    kind: str
    src: str
    dst: str
    count: int
    newest: str
    verified: bool
    why: str = ""  # the first reason one of its facts could not be proven
    note: str = ""


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    cut: list[str] = field(default_factory=list)  # what the bounds left out, one sentence each

    def ids(self) -> dict[str, str]:
        """A renderer's identifier per node name: `n0`, `n1`, ... (a name is only a label,
        so no name can become syntax in any format)."""
        return {n.name: f"n{i}" for i, n in enumerate(self.nodes)}

    def to_dict(self) -> GraphDict:
        ids = self.ids()
        return {"nodes": [{"id": ids[n.name], "name": n.name, "group": n.group,
                           "label": n.label} for n in self.nodes],
                "edges": [{"kind": e.kind, "src": e.src, "dst": e.dst, "count": e.count,
                           "newest": e.newest, "verified": e.verified, "why": e.why,
                           "note": e.note} for e in self.edges],
                "cut": list(self.cut)}


def aggregate(facts: Iterable[Fact]) -> list[Edge]:
    """One edge per (kind, src, dst, proven or not): how many facts, the newest date, the
    first reason an unproven one gave. Sorted by kind (KINDS order), then names."""
    found: dict[tuple[str, str, str, bool], Edge] = {}
    for f in facts:
        key = (f.kind, f.src, f.dst, not f.why)
        old = found.get(key)
        if old is None:
            found[key] = Edge(f.kind, f.src, f.dst, 1, f.date, not f.why, f.why, f.note)
        else:
            found[key] = Edge(f.kind, f.src, f.dst, old.count + 1, max(old.newest, f.date),
                              old.verified, old.why, old.note or f.note)
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(found.values(), key=lambda e: (order.get(e.kind, len(order)), e.src, e.dst,
                                                 not e.verified))


def build(nodes: Iterable[Node], facts: Iterable[Fact], cut: Iterable[str] = ()) -> Graph:
    """The graph of `facts` over `nodes`: every end of an edge is a node (a trailer may name
    a branch that is not here: it is drawn, in the group `untyped` unless given); nodes are
    ordered by group, then name."""
    edges = aggregate(facts)
    by_name: dict[str, Node] = {}
    for n in nodes:
        by_name.setdefault(n.name, n)
    for e in edges:
        for name in (e.src, e.dst):
            by_name.setdefault(name, Node(name, "untyped", name))
    order = {g: i for i, g in enumerate(GROUPS)}
    ordered = sorted(by_name.values(), key=lambda n: (order.get(n.group, len(order)), n.name))
    return Graph(ordered, edges, list(cut))
