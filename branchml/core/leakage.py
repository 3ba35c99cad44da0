"""The leakage guard's rules on split-request records (`branchml split rows`), pure: which
records of a release train on test items, and which earlier releases of the same client
already evaluated on the same test split ("evaluate on test only once")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from branchml.core.split import NAMES
from branchml.errors import UsageError

RECORDS = "tracking/splits.jsonl"
PURPOSES = ("train", "tune", "evaluate")
TRAINING = ("train", "tune")  # what a model learns from (tune: chosen by its score)
HELD_OUT = "test"
MODES = ("refuse", "warn")
FIELDS = {"split": str, "purpose": str, "assignment": str, "data_commit": str,
          "branch": str, "rows": int, "items": int}
SPLITS = sorted({n for names in NAMES.values() for n in names})


def split_names(text: str) -> list[str]:
    """`train` or `train,val`: the split names a request asks for, each known, in order."""
    names = [n.strip() for n in text.split(",")]
    bad = [n for n in names if n not in SPLITS]
    if bad or not names:
        raise UsageError(f"{text!r} is not a split; name one of {', '.join(SPLITS)}, or "
                         "several joined by commas (train,val).")
    return list(dict.fromkeys(names))


def clean_records(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    """The well-formed records of a splits.jsonl, each with its known fields only (a line
    that is not one is left out: it names nothing a release could be judged by)."""
    import json

    out = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and all(isinstance(value.get(k), t)
                                           for k, t in FIELDS.items()):
            record = {k: value[k] for k in FIELDS}
            record["key"] = value.get("key") if isinstance(value.get("key"), str) else None
            out.append(record)
    return out


def names_of(record: Mapping[str, Any]) -> list[str]:
    return [n for n in str(record.get("split", "")).split(",") if n]


def trains_on_test(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Records that hand test items to training or tuning."""
    return [r for r in records
            if r.get("purpose") in TRAINING and HELD_OUT in names_of(r)]


def evaluations(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """Assignment digests whose test split these records evaluated on."""
    return {str(r.get("assignment")) for r in records
            if r.get("purpose") == "evaluate" and HELD_OUT in names_of(r)}


def evaluated_before(records: Iterable[Mapping[str, Any]],
                     earlier: Iterable[tuple[str, Iterable[Mapping[str, Any]]]]
                     ) -> dict[str, list[str]]:
    """assignment digest -> the earlier releases (by tag) that evaluated on its test split
    too, for each test split these records evaluate on."""
    mine = evaluations(records)
    found: dict[str, list[str]] = {}
    for tag, theirs in earlier:
        for digest in sorted(mine & evaluations(theirs)):
            found.setdefault(digest, []).append(tag)
    return found


def overlaps(training: Iterable[tuple[str, str]], test: Iterable[tuple[str, str]],
             chosen: Iterable[str]) -> set[str]:
    """Items a training request took (its `chosen` split names, under its assignment
    `training`) that another assignment `test` puts in test."""
    names = set(chosen)
    took = {k for k, s in training if s in names}
    return {k for k, s in test if s == HELD_OUT and k in took}
