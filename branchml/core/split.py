"""Train/val/test assignment by a seeded hash of each item's key: the same on every machine,
stable under appends (an item once assigned never moves; new items never touch old ones).

The assignment lives in one append-only CSV (`key,split`) beside a params file that records
the seed and ratios it was made with.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from branchml.errors import UsageError

ASSIGNMENT = "data/split/assignment.csv"
PARAMS = "data/split/params.json"
NAMES = {2: ("train", "test"), 3: ("train", "val", "test")}


@dataclass
class MissingKeys:
    """Rows whose key is empty, whitespace only or absent: never one item together. Counted
    per file; the first row numbers are kept (a file of a million such rows stays small)."""

    LISTED = 10
    counts: dict[str, int] = field(default_factory=dict)
    rows: dict[str, list[int]] = field(default_factory=dict)

    def add(self, path: str, row: int) -> None:
        self.counts[path] = self.counts.get(path, 0) + 1
        listed = self.rows.setdefault(path, [])
        if len(listed) < self.LISTED:
            listed.append(row)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def refusal(self, key: str) -> str:
        path = next(iter(self.counts))
        n, listed = self.counts[path], self.rows[path]
        rows = ", ".join(map(str, listed)) + (", ..." if n > len(listed) else "")
        more = self.total - n
        others = f", {more} more in {len(self.counts) - 1} other file(s)" if more else ""
        return (f"{path}: {n} row(s) have no {key} value (rows {rows}){others}; rows "
                "without a key are never grouped into one item: give them a key on their "
                "branch, or pass --skip-empty-keys to leave them unassigned.")


def parse_ratios(text: str) -> tuple[float, ...]:
    try:
        ratios = tuple(float(x) for x in text.split(","))
    except ValueError:
        ratios = ()
    if len(ratios) not in NAMES or not all(r > 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-9:
        raise UsageError(f"--ratios {text!r} must be two or three positive numbers that add up "
                         "to 1, like 0.8,0.1,0.1.")
    return ratios


def bucket(key: str, seed: int, ratios: tuple[float, ...]) -> str:
    """The split of `key`: sha256 of "seed:key" read as a number in [0, 1)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    x = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    names = NAMES[len(ratios)]
    for name, ratio in zip(names, ratios, strict=True):
        edge += ratio
        if x < edge:
            return name
    return names[-1]


def read_assignment(data: bytes) -> list[tuple[str, str]]:
    """The (key, split) rows, read as the checker reads them (core/splitcheck.py)."""
    from branchml.core import splitcheck

    try:
        return [(k.decode(), s.decode()) for k, s in splitcheck.rows([data], len(data) + 1)]
    except (UsageError, UnicodeDecodeError, csv.Error) as e:
        raise UsageError(f"{ASSIGNMENT} does not parse ({e}); restore it from an earlier "
                         "commit of split.") from None


def assign(existing: bytes | None, keys: Iterable[str], seed: int,
           ratios: tuple[float, ...]) -> tuple[bytes, dict[str, int]]:
    """The assignment file with every key it lacks appended, and the counts added per split."""
    old = existing or b""
    known = {k for k, _ in read_assignment(old)}
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    if not old:
        w.writerow(["key", "split"])
    added: dict[str, int] = {}
    for key in keys:
        if key in known:
            continue
        if "\n" in key or "\r" in key:
            raise UsageError(f"item key {key!r} holds a line break; keys must be one line.")
        known.add(key)
        name = bucket(key, seed, ratios)
        added[name] = added.get(name, 0) + 1
        w.writerow([key, name])
    if old and not old.endswith(b"\n") and added:
        old += b"\n"
    return old + buf.getvalue().encode(), added


def params_file(seed: int, ratios: tuple[float, ...], key: str | None) -> bytes:
    return (json.dumps({"seed": seed, "ratios": list(ratios), "key": key}, indent=2)
            + "\n").encode()


def resolve_params(recorded: dict[str, Any] | None, seed: int | None,
                   ratios: tuple[float, ...] | None, key: str | None,
                   defaults: dict[str, Any]) -> tuple[int, tuple[float, ...], str | None]:
    """The seed, ratios and key to assign with. With a recorded split, an option left out
    takes the recorded value and an option given must equal it (old and new items are then
    assigned alike); without one, options, then the config's `split:` values, then defaults."""
    if recorded is None:
        return (defaults.get("seed", 0) if seed is None else seed,
                ratios or tuple(defaults.get("ratios", (0.8, 0.1, 0.1))),
                defaults.get("key") if key is None else key)
    was = (int(recorded.get("seed", 0)), tuple(float(r) for r in recorded.get("ratios", ())),
           recorded.get("key"))
    differ = []
    if seed is not None and seed != was[0]:
        differ.append(f"--seed {seed} (recorded {was[0]})")
    if ratios is not None and not _same_ratios(ratios, was[1]):
        differ.append(f"--ratios {_ratios(ratios)} (recorded {_ratios(was[1])})")
    if key is not None and key != was[2]:
        differ.append(f"--key {key} (recorded " + (f"{was[2]})" if was[2] else "none: each "
                                                    "file is an item)"))
    if differ:
        raise UsageError(
            f"the split was made with {_said(was)}, and new items must be assigned alike, but "
            f"{'; '.join(differ)} {'differs' if len(differ) == 1 else 'differ'}: leave "
            f"{'it' if len(differ) == 1 else 'them'} out to reuse the recorded values.")
    return was


def _same_ratios(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 1e-9 for x, y in zip(a, b, strict=True))


def _ratios(ratios: tuple[float, ...]) -> str:
    return ",".join(f"{r:g}" for r in ratios)


def _said(params: tuple[int, tuple[float, ...], str | None]) -> str:
    seed, ratios, key = params
    return (f"--seed {seed} --ratios {_ratios(ratios)} "
            + (f"--key {key}" if key else "no --key"))


def problems(old: bytes | None, new: bytes, max_line: int = 1 << 20) -> list[str]:
    """Why a change to the assignment breaks stability: an item moved or in two splits (the
    checker streams both files through core/splitcheck.py; this is the same on bytes)."""
    from branchml.core import splitcheck

    return splitcheck.problems(None if old is None else lambda: [old], lambda: [new], max_line)
