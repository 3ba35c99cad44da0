"""The environment a model was trained in, and a re-run held against its release: the pure
parts of `branchml train` and `branchml reproduce` (docs/reproducibility.md).

An environment record is {"python", "executable" (the interpreter's path, sys.executable),
"implementation", "platform", "machine", "packages":
[[name, version], ...] sorted, "packages_digest"}; the manifest keeps all of it but the
list itself (its length instead), so a tag stays small and the list stays in tracking."""

from __future__ import annotations

import hashlib
import json
import math
from fractions import Fraction
from typing import Any

ENVIRONMENT_FILE = "tracking/environment.json"

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
    return {"python": str(raw.get("python", "")), "executable": str(raw.get("executable", "")),
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


def names_a_checkout_file(command: list[str]) -> bool:
    """A relative argv[0] with a `/` (bin/python3, ./train.sh): a file of the checked-out
    branch, never a program of the machine."""
    return "/" in command[0] and not command[0].startswith("/")


def runnable_commands(config: Any) -> list[list[str]]:
    """The argv lists `reproduce` may run, by main's config NOW: its `train.command` and each
    entry of `reproduce.commands` (earlier commands the team still trusts; deleting an entry
    revokes it). A command that was main's only in an older version is proven history, never
    permission to run (a PR can set an argv and revert it: no net change to review)."""
    out = [c for c in [command_of(config)] if c is not None]
    section = config.get("reproduce") if isinstance(config, dict) else None
    listed = section.get("commands") if isinstance(section, dict) else None
    for cmd in listed if isinstance(listed, list) else []:
        if isinstance(cmd, list) and cmd and all(isinstance(a, str) for a in cmd):
            out.append(list(cmd))
    return out


def environment_changes(old: Any, new: dict[str, Any]) -> list[str]:
    """Each way `new` differs from the release's record `old`, one phrase each."""
    if not isinstance(old, dict):
        return ["the release recorded no environment (tracking/environment.json)"]
    out = [f"{k} {old.get(k)!s} -> {new.get(k)!s}" for k in SUMMARY_KEYS[:-1]
           if old.get(k) != new.get(k)]
    moved = interpreter_moved(old, new)
    out += [f"interpreter {moved[0]} -> {moved[1]}"] if moved else []
    before = {p[0]: p[1] for p in old.get("packages") or [] if isinstance(p, list)
              and len(p) == 2}
    after = {p[0]: p[1] for p in new.get("packages") or []}
    out += [f"package {n} {before[n]} removed" for n in sorted(set(before) - set(after))]
    out += [f"package {n} {after[n]} added" for n in sorted(set(after) - set(before))]
    out += [f"package {n} {before[n]} -> {after[n]}" for n in sorted(set(before) & set(after))
            if before[n] != after[n]]
    return out


def interpreter_moved(old: Any, new: dict[str, Any]) -> tuple[str, str] | None:
    """(the interpreter train ran, the one the re-run ran) when both are known and differ
    (a record written before `executable` was kept says nothing)."""
    before = old.get("executable") if isinstance(old, dict) else None
    after = new.get("executable")
    if isinstance(before, str) and before and isinstance(after, str) and before != after:
        return before, after
    return None


def allowed(tolerance: Any, metric: str) -> int | float:
    """The absolute difference `reproduce.tolerance` allows `metric` (0: exact); an integer
    stays one (never turned into a float that cannot hold it)."""
    value = tolerance.get(metric, 0) if isinstance(tolerance, dict) else tolerance
    return value if _is_number(value) else 0


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
        elif not same_metric(recorded[name], actual[name]):
            gap = _gap(recorded[name], actual[name])
            phrase = f"metric {name} {_short(recorded[name])} -> {_short(actual[name])}"
            limit = allowed(tolerance, name)
            if gap is not None and gap <= limit:
                within.append(f"{phrase} (within {_short(limit, True)})")
            else:
                over = f" (over {_short(limit, True)})" if gap is not None else ""
                outside.append(phrase + over)
    return outside, within


def same_metric(a: Any, b: Any) -> bool:
    """Equal for a reproduction: by == (Python compares an int and a float exactly), and NaN
    equal to NaN (the same computation re-run gives NaN again)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _gap(a: Any, b: Any) -> Fraction | None:
    """|a - b| exactly, as a fraction: 2**53 + 1 is not 2**53, and 10**400 never meets a
    float conversion it would overflow; None when either is not a finite number."""
    if not (_is_number(a) and _is_number(b)):
        return None
    if any(isinstance(x, float) and not math.isfinite(x) for x in (a, b)):
        return None
    return abs(Fraction(a) - Fraction(b))


def _short(value: Any, limit: bool = False) -> str:
    """A metric (repr, as before) or a limit (%g) for a message; a number too long to read
    is cut in the middle."""
    text = f"{value:g}" if limit and isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else f"{text[:18]}...{text[-18:]} ({len(text)} characters)"


def verdict(failed: bool, outside: list[str], models_missing: list[str],
            models_differ: list[str], within: list[str]) -> str:
    """identical / within tolerance / differs (docs/reproducibility.md)."""
    if failed or outside or models_missing:
        return "differs"
    if models_differ or within:
        return "within tolerance"
    return "identical"
