"""A deployment record, as one commit on refs/deploy/<client> states it twice: its trailers
(Deploy-Primary, Deploy-Candidate: what the server, `deployed` and `rollback` read) and its
deploy.yaml (what a router reads). `branchml deploy` writes both alike; a commit made by hand
can make them differ, so every door reads both and refuses a record whose halves disagree:
then what the server accepted, what `deployed` says and where the router sends keys are one
story. Which tags exist is for the caller to judge (this module reads no repository)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from branchml.errors import ConfigError

KEYS = {"client", "primary", "candidate", "fraction"}  # all that `branchml deploy` writes
LIMIT = 64 * 1024  # deploy.yaml is four lines: a larger one is not ours, and is never read


class BadRecord(Exception):
    """A record no door trusts: the message is a phrase that follows "the deployment"."""


@dataclass(frozen=True)
class DeployRecord:
    """primary, and the candidate with its share of keys (both None without a canary)."""

    primary: str
    candidate: str | None = None
    fraction: float | None = None

    def tags(self) -> list[str]:
        return [self.primary, *([self.candidate] if self.candidate else [])]

    def said(self) -> str:
        if self.candidate is None:
            return f"{self.primary} alone"
        return f"{self.primary} with candidate {self.candidate} at {self.fraction:g}"


def from_trailers(primary: str, candidate: str) -> DeployRecord:
    """The record the trailers state (the values as `git log %(trailers:...,valueonly)`
    prints them: a trailer given twice is two lines)."""
    names = primary.split()
    if not names:
        raise BadRecord("names no primary release (no Deploy-Primary trailer)")
    if len(names) > 1:
        raise BadRecord("names more than one primary release (Deploy-Primary)")
    lines = [line for line in candidate.splitlines() if line.strip()]
    if not lines:
        return DeployRecord(names[0])
    parts = lines[0].split()
    if len(lines) > 1 or len(parts) != 2:
        raise BadRecord("holds a Deploy-Candidate trailer that is not one release and its "
                        "fraction")
    share = _fraction(parts[1])
    if share is None:
        raise BadRecord(f"gives candidate {parts[0]} a fraction {parts[1]!r} that is not a "
                        "number between 0 and 1")
    if parts[0] == names[0]:
        raise BadRecord(f"names {parts[0]} as both its primary and its candidate")
    return DeployRecord(names[0], parts[0], share)


def _fraction(value: object) -> float | None:
    """A share strictly between 0 and 1, from a trailer's text or deploy.yaml's value (a
    YAML 1.1 reader takes `1e-05`, which deploy writes for small shares, as text)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        share = float(value)
    except ValueError:
        return None
    return share if math.isfinite(share) and 0 < share < 1 else None


def from_yaml(text: str | None, client: str) -> DeployRecord:
    """The record deploy.yaml states, as `branchml deploy` writes it (its four keys only)."""
    from branchml.core.yamlload import load

    data: Any = None
    if text is not None:
        import yaml

        try:
            data = load(text, "deploy.yaml")
        except (yaml.YAMLError, ConfigError):  # not YAML, or past the YAML limits
            data = None
    if not isinstance(data, dict) or not isinstance(data.get("primary"), str):
        raise BadRecord("holds no readable deploy.yaml with a primary release")
    if set(data) - KEYS or data.get("client") != client:
        raise BadRecord(f"deploy.yaml is not the one `branchml deploy` writes for {client} "
                        f"(keys {', '.join(sorted(KEYS))})")
    candidate, fraction = data.get("candidate"), data.get("fraction")
    if candidate is None and fraction is None:
        return DeployRecord(data["primary"])
    share = _fraction(fraction)
    if not isinstance(candidate, str) or share is None:
        raise BadRecord(f"deploy.yaml names candidate {candidate!r} without a fraction "
                        "between 0 and 1")
    return DeployRecord(data["primary"], candidate, share)


def read(client: str, primary: str, candidate: str, text: str | None) -> DeployRecord:
    """The record the trailers state, when deploy.yaml states the same; else BadRecord."""
    stated = from_trailers(primary, candidate)
    routed = from_yaml(text, client)
    if routed != stated:
        raise BadRecord(f"routes by deploy.yaml to {routed.said()} but its trailers say "
                        f"{stated.said()}")
    return stated
