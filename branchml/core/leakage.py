"""The leakage guard's rules on split-request records (`branchml split rows`), pure: which
records of a release train on test items, and which earlier releases of the same client
evaluated on test, to compare their test items with the release's ("evaluate on test only
once": ops/evalonce.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from branchml.core.split import NAMES
from branchml.errors import UsageError

RECORDS = "tracking/splits.jsonl"
PURPOSES = ("train", "tune", "evaluate")
TRAINING = ("train", "tune")  # what a model learns from (tune: chosen by its score)
HELD_OUT = "test"
MODES = ("refuse", "warn")
FIELDS = {"split": str, "purpose": str, "assignment": str, "data_commit": str,
          "branch": str, "rows": int, "items": int}
IN_LFS = (f"{RECORDS} is stored in git-lfs (a pointer), so the leakage guard cannot read the "
          "split records: they must be a plain git blob; stop tracking it in git-lfs (`git lfs "
          f"untrack {RECORDS}`, then `git rm --cached` and `git add` it before you commit).")
SPLITS = sorted({n for names in NAMES.values() for n in names})


def split_names(text: str) -> list[str]:
    """`train` or `train,val`: the split names a request asks for, each known, in order."""
    names = [n.strip() for n in text.split(",")]
    bad = [n for n in names if n not in SPLITS]
    if bad or not names:
        raise UsageError(f"{text!r} is not a split; name one of {', '.join(SPLITS)}, or "
                         "several joined by commas (train,val).")
    return list(dict.fromkeys(names))


class SplitRecords(NamedTuple):
    """A splits.jsonl read: the records a manifest keeps, and why each other line is not one
    (said, never dropped silently: the guard refuses or warns)."""

    kept: list[dict[str, Any]]
    unread: list[str]


def read_records(lines: Iterable[bytes]) -> SplitRecords:
    """Each line of a splits.jsonl (blank lines aside): a record with `split rows`'s fields
    and types, its known fields only, or the reason it is not one."""
    kept: list[dict[str, Any]] = []
    unread: list[str] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            unread.append(f"line {n} of {RECORDS} is not JSON")
            continue
        wrong = _wrong_field(value)
        if wrong:
            unread.append(f"line {n} of {RECORDS} is not a record `split rows` writes ({wrong})")
            continue
        record = {k: value[k] for k in FIELDS}
        record["key"] = value.get("key") if isinstance(value.get("key"), str) else None
        kept.append(record)
    return SplitRecords(kept, unread)


def _wrong_field(value: Any) -> str:
    if not isinstance(value, dict):
        return "not a JSON object"
    for k, t in FIELDS.items():
        v = value.get(k)
        if not isinstance(v, t) or (t is int and isinstance(v, bool)):
            return f"{k} is {json.dumps(v)}, not {'a whole number' if t is int else 'text'}"
    return ""


def unjudged(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Kept records whose split or purpose is not exactly what `split rows` writes (`train,
    test` with a space, `Train`): the rules below match exactly, so these are said, not
    skipped."""
    out = []
    for r in records:
        names = str(r.get("split", "")).split(",")
        if (set(names) - set(SPLITS) or len(set(names)) != len(names)
                or r.get("purpose") not in PURPOSES):
            out.append(f"the request for split {r.get('split')!r} with purpose "
                       f"{r.get('purpose')!r} is not one `split rows` writes")
    return out


def names_of(record: Mapping[str, Any]) -> list[str]:
    return [n for n in str(record.get("split", "")).split(",") if n]


def trains_on_test(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Records that hand test items to training or tuning."""
    return [r for r in records
            if r.get("purpose") in TRAINING and HELD_OUT in names_of(r)]


EARLIER_CAP = 50  # earlier releases whose test items are compared: each may mean an assignment read


def evaluates_on_test(record: Any) -> bool:
    """Whether a record (of this commit, or of an earlier manifest: any JSON) evaluated on
    the test split, with the fields needed to find its assignment."""
    return (isinstance(record, dict) and record.get("purpose") == "evaluate"
            and HELD_OUT in names_of(record) and isinstance(record.get("assignment"), str)
            and isinstance(record.get("data_commit"), str))


class Earlier(NamedTuple):
    """The earlier releases' test evaluations to compare: assignment digest -> [(tag, data
    commit)] (each assignment is then read once), the releases compared (oldest first), and
    how many releases evaluated on test."""

    by_digest: dict[str, list[tuple[str, str]]]
    tags: list[str]
    evaluated: int


def earlier_evaluations(earlier: Iterable[tuple[str, Any]], cap: int = EARLIER_CAP
                        ) -> Earlier:
    """The test evaluations of the newest `cap` earlier releases (oldest first in
    `earlier`) that evaluated on test; a manifest's `splits` that is not a list is none."""
    found = [(tag, [r for r in theirs if evaluates_on_test(r)])
             for tag, theirs in earlier if isinstance(theirs, list)]
    found = [(tag, evals) for tag, evals in found if evals]
    kept = found[max(len(found) - cap, 0):]
    by_digest: dict[str, list[tuple[str, str]]] = {}
    for tag, evals in kept:
        for r in evals:
            by_digest.setdefault(r["assignment"], []).append((tag, r["data_commit"]))
    return Earlier(by_digest, [tag for tag, _ in kept], len(found))
