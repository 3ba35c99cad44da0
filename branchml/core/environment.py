"""The environment a model was trained in, and a re-run held against its release: the pure
parts of `branchml train` and `branchml reproduce` (docs/reproducibility.md).

An environment record is {"python", "implementation", "platform", "machine", "packages":
[[name, version], ...] sorted, "packages_digest"}; the manifest keeps all of it but the
list itself (its length instead), so a tag stays small and the list stays in tracking."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

ENVIRONMENT_FILE = "tracking/environment.json"

# run by the training interpreter itself (`python -c`), in an empty folder: prints the record's
# raw parts as JSON. Only the standard library, so any Python 3.8+ answers.
PROBE = """\
import json, platform, sys
from importlib import metadata
pkgs = set()
for d in metadata.distributions():
    name = d.metadata["Name"] if d.metadata else None
    if name:
        pkgs.add((name, d.version or ""))
print(json.dumps({"python": platform.python_version(),
                  "implementation": platform.python_implementation(),
                  "platform": platform.platform(), "machine": platform.machine(),
                  "packages": sorted([list(p) for p in pkgs])}))
"""

SUMMARY_KEYS = ("python", "implementation", "platform", "machine", "packages_digest")


def packages_digest(packages: list[list[str]]) -> str:
    """sha256 of the sorted package list as canonical JSON (no spaces, sorted)."""
    text = json.dumps(sorted(packages), separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def record(raw: dict[str, Any]) -> dict[str, Any]:
    """The environment record from a probe's answer: packages normalised (name lower-cased
    as pip compares them, sorted) and their digest."""
    pkgs = sorted({(str(n).lower().replace("_", "-"), str(v))
                   for n, v in raw.get("packages") or []})
    packages = [list(p) for p in pkgs]
    return {"python": str(raw.get("python", "")),
            "implementation": str(raw.get("implementation", "")),
            "platform": str(raw.get("platform", "")), "machine": str(raw.get("machine", "")),
            "packages": packages, "packages_digest": packages_digest(packages)}


def summary(env: Any) -> dict[str, Any] | None:
    """What the manifest keeps of an environment record (None when it is not one): the
    digest is recomputed from the list, so a record edited by hand cannot claim another."""
    if not isinstance(env, dict) or not isinstance(env.get("packages"), list):
        return None
    packages = [p for p in env["packages"] if isinstance(p, list) and len(p) == 2
                and all(isinstance(x, str) for x in p)]
    out = {k: str(env.get(k, "")) for k in SUMMARY_KEYS[:-1]}
    return {**out, "packages_digest": packages_digest(packages), "packages": len(packages)}


def command_of(config: Any) -> list[str] | None:
    """`train.command` of a config mapping, when it is a non-empty list of strings."""
    train = config.get("train") if isinstance(config, dict) else None
    cmd = train.get("command") if isinstance(train, dict) else None
    if isinstance(cmd, list) and cmd and all(isinstance(a, str) for a in cmd):
        return list(cmd)
    return None


def environment_changes(old: Any, new: dict[str, Any]) -> list[str]:
    """Each way `new` differs from the release's record `old`, one phrase each."""
    if not isinstance(old, dict):
        return ["the release recorded no environment (tracking/environment.json)"]
    out = [f"{k} {old.get(k)!s} -> {new.get(k)!s}" for k in SUMMARY_KEYS[:-1]
           if old.get(k) != new.get(k)]
    before = {p[0]: p[1] for p in old.get("packages") or [] if isinstance(p, list)
              and len(p) == 2}
    after = {p[0]: p[1] for p in new.get("packages") or []}
    out += [f"package {n} {before[n]} removed" for n in sorted(set(before) - set(after))]
    out += [f"package {n} {after[n]} added" for n in sorted(set(after) - set(before))]
    out += [f"package {n} {before[n]} -> {after[n]}" for n in sorted(set(before) & set(after))
            if before[n] != after[n]]
    return out


def allowed(tolerance: Any, metric: str) -> float:
    """The absolute difference `reproduce.tolerance` allows `metric` (0: exact)."""
    value = tolerance.get(metric, 0) if isinstance(tolerance, dict) else tolerance
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else 0.0


def metric_changes(recorded: dict[str, Any], actual: dict[str, Any], tolerance: Any
                   ) -> tuple[list[str], list[str]]:
    """(metrics outside tolerance, missing or new; metrics that moved within tolerance),
    one phrase each."""
    outside, within = [], []
    for name in sorted(set(recorded) | set(actual)):
        if name not in actual:
            outside.append(f"metric {name} missing from the re-run")
        elif name not in recorded:
            outside.append(f"metric {name} is new in the re-run")
        elif recorded[name] != actual[name]:
            gap = _gap(recorded[name], actual[name])
            phrase = f"metric {name} {recorded[name]!r} -> {actual[name]!r}"
            limit = allowed(tolerance, name)
            if gap is not None and gap <= limit:
                within.append(f"{phrase} (within {limit:g})")
            else:
                outside.append(phrase + (f" (over {limit:g})" if gap is not None else ""))
    return outside, within


def _gap(a: Any, b: Any) -> float | None:
    numbers = [x for x in (a, b) if isinstance(x, int | float) and not isinstance(x, bool)]
    if len(numbers) != 2 or not all(math.isfinite(float(x)) for x in numbers):
        return None
    return abs(float(a) - float(b))


def verdict(failed: bool, outside: list[str], models_missing: list[str],
            models_differ: list[str], within: list[str]) -> str:
    """identical / within tolerance / differs (docs/reproducibility.md)."""
    if failed or outside or models_missing:
        return "differs"
    if models_differ or within:
        return "within tolerance"
    return "identical"
