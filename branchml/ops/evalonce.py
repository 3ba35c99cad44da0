"""The leakage guard's "evaluate on test only once" rule, by items: a release is warned when
the test items it evaluates on overlap the test items an earlier release of the same client
evaluated on. Digests alone would miss it: new data makes a new assignment (a new digest)
whose test split still holds every old test item, since items never move.

Bounded like the rest of the guard: the release's test items are held as sorted 64-bit key
hashes (8 bytes an item) and one bit mask over them; each earlier assignment is streamed and
hashed once per distinct digest (the earlier releases' records name it and the data commit
that holds it), compared, then dropped; the newest rules.EARLIER_CAP releases that evaluated
on test are compared, and the warning says so when there were more."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from branchml.core import leakage as rules
from branchml.core.assignments import Hashed

Reader = Callable[[str, str], Hashed | None]  # (data commit, digest) -> the assignment, or None

AGAIN = "evaluate on test only once (a new test set needs new data)."
NAMED = 10  # releases named in one warning; past that, how many more


def warnings(client: str, records: Iterable[Mapping[str, Any]], read: Reader,
             earlier: Iterable[tuple[str, Any]]) -> list[str]:
    """The warnings of the rule for `client`'s release whose split requests are `records`
    (`read` gives the assignment of a data commit, None when it cannot be read here)."""
    evals = [r for r in records if rules.evaluates_on_test(r)]
    if not evals:
        return []
    theirs = rules.earlier_evaluations(earlier)
    mine, blind = _mine(evals, read)
    out = []
    found = _overlaps(mine, theirs, read) if len(mine) else None
    if found is not None and found[1]:
        count, tags = found[0], found[1]
        out.append(f"{count} of the {len(mine)} test items this release of {client} evaluates "
                   f"on were already used for evaluation by {_named(tags)}: {AGAIN}")
    for digest in sorted(blind):  # not readable here: the same digest is the same test split
        tags = _tags(theirs.by_digest.get(digest, []))
        if tags:
            out.append(f"the test split of assignment {digest[:10]} was already used for "
                       f"evaluation by {_named(tags)}: {AGAIN}")
    if found is not None and found[2]:
        out.append(f"the test items of {_named(found[2])} cannot be compared with this "
                   "release's: their records' data commits do not hold their assignments here.")
    if len(theirs.tags) < theirs.evaluated:
        out.append(f"only the newest {len(theirs.tags)} of the {theirs.evaluated} earlier "
                   f"releases of {client} that evaluated on test were compared with this "
                   "release's test items.")
    return out


def _mine(evals: list[Mapping[str, Any]], read: Reader) -> tuple[Any, set[str]]:
    """(the sorted, distinct hashes of the test items the release evaluates on, the digests
    of its evaluations whose assignment cannot be read here)."""
    import numpy as np

    items: Any = np.zeros(0, np.int64)
    blind: set[str] = set()
    for r in evals:
        held = read(r["data_commit"], r["assignment"])
        if held is None:
            blind.add(r["assignment"])
        else:
            items = np.union1d(items, held.chosen([rules.HELD_OUT]))
    return items, blind


def _overlaps(mine: Any, theirs: rules.Earlier, read: Reader
              ) -> tuple[int, list[str], list[str]]:
    """(how many of `mine` earlier releases evaluated on, those releases, the releases whose
    assignment could not be read): one read per distinct digest."""
    import numpy as np

    used = np.zeros(len(mine), dtype=bool)
    hit: set[str] = set()
    unread: set[str] = set()
    for digest, at in theirs.by_digest.items():
        held = next((h for c in dict.fromkeys(c for _, c in at)
                     if (h := read(c, digest)) is not None), None)
        if held is None:
            unread.update(tag for tag, _ in at)
            continue
        mask = np.isin(mine, held.chosen([rules.HELD_OUT]), assume_unique=True)
        if mask.any():
            hit.update(tag for tag, _ in at)
            used |= mask
        del held, mask
    return (int(used.sum()), [t for t in theirs.tags if t in hit],
            [t for t in theirs.tags if t in unread - hit])


def _named(tags: list[str]) -> str:
    more = f" and {len(tags) - NAMED} more" if len(tags) > NAMED else ""
    return ", ".join(tags[:NAMED]) + more


def _tags(at: list[tuple[str, str]]) -> list[str]:
    return list(dict.fromkeys(tag for tag, _ in at))
