"""Which pulls carry removals (`pulls.carry_removals` in branchml.yaml). Pure and light: the
checker reads it on every hook run.

A pair names a source and a destination (a pattern, like a branch type's key). Raw and
monitoring never remove rows (raw holds what was uploaded, monitoring what production
logged), so config.py refuses a pair out of them; see docs/data-moves.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from branchml.core.names import pattern_matches


class CarryPair(NamedTuple):
    """`pulls.carry_removals` entry: pulls from `source` into `dest` carry removals."""

    source: str
    dest: str


# the default when branchml.yaml names no pairs (kept to the types the config defines)
DEFAULT_PAIRS = (CarryPair("clean", "split"), CarryPair("split", "stable/*"))


def pairs_of(cfg: Mapping[str, Any]) -> tuple[CarryPair, ...]:
    """The pairs of an effective config (config.py fills in the default; a config parsed
    before the key existed, from an old cache, gets it here)."""
    pulls = cfg.get("pulls") or {}
    spec = (pulls["carry_removals"] if "carry_removals" in pulls
            else default_pairs(cfg.get("branches") or {}))
    return tuple(CarryPair(str(p["from"]), str(p["to"])) for p in spec)


def sources_into(pairs: tuple[CarryPair, ...], dest: str) -> list[str]:
    """The branches whose pulls into `dest` carry removals; a `*` in a source stands for
    `dest`'s last name part, as in a branch type's `parent`."""
    leaf = dest.rsplit("/", 1)[-1]
    return [p.source.replace("*", leaf) for p in pairs if pattern_matches(p.dest, dest)]


def carries(pairs: tuple[CarryPair, ...], source: str, dest: str) -> bool:
    return source in sources_into(pairs, dest)


def _type_of(name: str, branches: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if name in branches:
        return branches[name]
    return next((s for p, s in branches.items() if pattern_matches(p, name)), None)


def _append_only_kind(spec: Mapping[str, Any], branches: Mapping[str, Mapping[str, Any]]
                      ) -> str | None:
    """'raw' or 'monitoring' when a branch type is one of those that never remove rows:
    any monitoring type, and a data type made from main (where uploads land)."""
    if spec.get("type") == "monitoring":
        return "monitoring"
    parent = spec.get("parent")
    parent_spec = _type_of(parent, branches) if parent else None
    if spec.get("type") == "data" and parent_spec is not None and parent_spec["type"] == "main":
        return "raw"
    return None


def pair_problem(pair: CarryPair, branches: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Why a pair cannot carry removals (None: it can): both ends must be branch types, and
    raw and monitoring never remove rows nor take removals, main holds no data."""
    src, dst = _type_of(pair.source, branches), _type_of(pair.dest, branches)
    for end, spec in (("from", src), ("to", dst)):
        if spec is None:
            name = pair.source if end == "from" else pair.dest
            return f"{end}: {name!r} is not a branch defined under branches"
    assert src is not None and dst is not None
    kind = _append_only_kind(src, branches)
    if kind is not None:
        return (f"from: {pair.source} is a {kind} branch, which never removes rows, so a pull "
                "out of it has no removals to carry; remove the pair")
    kind = "main" if dst["type"] == "main" else _append_only_kind(dst, branches)
    if kind is not None:
        return f"to: {pair.dest} is a {kind} branch, which never takes removals; remove the pair"
    return None


def default_pairs(branches: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    """The default pairs a config gets when it names none: those its branch types allow."""
    return [{"from": p.source, "to": p.dest} for p in DEFAULT_PAIRS
            if pair_problem(p, branches) is None]
