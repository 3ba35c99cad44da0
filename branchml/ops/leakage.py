"""The leakage guard `tag` runs on the split requests a release's commit records
(`tracking/splits.jsonl`, written by `branchml split rows`): refused (or, with
`tags.leakage: warn`, warned) when training or tuning took test items; warnings when an
earlier release of the same client already evaluated on some of the same test items
(ops/evalonce.py), and when a request read data that is not in the release's own history."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from branchml.content.manifests import SplitFile
from branchml.core import leakage as rules
from branchml.core.assignments import Hashed, overlap
from branchml.errors import UsageError, VerdictError
from branchml.ops import evalonce, splitstream
from branchml.repo.reader import Git

_FULL = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


def mode(config: Mapping[str, Any]) -> str:
    """`tags.leakage` of the trusted config: refuse (the default) or warn."""
    found = (config.get("tags") or {}).get("leakage", "refuse")
    if found not in rules.MODES:
        raise UsageError(f"tags.leakage is {found!r}; set it to refuse or warn.")
    return str(found)


def guard(g: Git, found: SplitFile, client: str, how: str,
          earlier: Iterable[tuple[str, Any]], commit: str | None = None) -> list[str]:
    """The warnings for `client`'s next release of `commit`; VerdictError (nothing tagged) when its
    training took test items, or a record cannot be read, and `how` is refuse. Records in
    git-lfs are refused whatever `how` says: the guard would be blind to all of them."""
    if found.lfs:
        raise VerdictError(rules.IN_LFS)
    records = found.kept
    unread = found.unread + rules.unjudged(records) + _absent(g, records)
    if unread and how == "refuse":
        raise VerdictError(f"{client}'s release cannot be judged for leakage: {unread[0]}"
                           f"{_more(unread)}; record requests with `branchml split rows`, or "
                           "set tags.leakage: warn in branchml.yaml on main.")
    if not records:
        return [f"leakage: {u}" for u in unread]
    held: dict[tuple[str, str], Hashed | None] = {}
    problems, notes = _leaks(g, records, held)
    if problems and how == "refuse":
        raise VerdictError(f"{client}'s release would train on test items: {problems[0]}"
                           f"{_more(problems)}; train and tune on train and val, evaluate on "
                           "test, or set tags.leakage: warn in branchml.yaml on main.")
    warnings = [f"leakage: {p}" for p in unread + problems] + notes
    if commit is not None:
        warnings += _elsewhere(g, records, commit)

    def read(data_commit: str, digest: str) -> Hashed | None:
        """This release's assignments as `_leaks` read them (the same digest is the same
        content wherever it is); an earlier release's read anew and not kept, so memory
        holds one earlier assignment at a time."""
        mine = held.get((data_commit, digest)) or next(
            (h for (_, d), h in held.items() if d == digest and h is not None), None)
        return mine if mine is not None else _assignment(g, data_commit, digest)

    return warnings + evalonce.warnings(client, records, read, earlier)


def _elsewhere(g: Git, records: list[dict[str, Any]], commit: str) -> list[str]:
    """A warning per data commit that is neither the release commit nor on its first-parent
    line: rows read there (the split branch ahead of stable) may not be the data the release
    holds. A warning, not a refusal: reading older data can be meant (`--rev`)."""
    out = []
    for r in {r["data_commit"]: r for r in records}.values():
        at = r["data_commit"]
        if at == commit or not _FULL.fullmatch(at) or g.object_type(at) != "commit" \
                or g.on_first_parent_chain(commit, at):
            continue  # a data commit not here is already said: "cannot be checked"
        out.append(f"{_request(r)} read the data of {r['branch']} {at[:10]}, which is not "
                   f"the release commit {commit[:10]} nor on its first-parent line: the rows "
                   "may not be the data this release holds (run `split rows` on the "
                   "release's branch, which reads the checked-out commit).")
    return out


def _absent(g: Git, records: list[dict[str, Any]]) -> list[str]:
    """Records whose data commit is not a commit here: what they selected cannot be read, so
    `impact` could not say which rows such a release trained on (issue 21)."""
    out = []
    for at in dict.fromkeys(str(r.get("data_commit")) for r in records):
        if not _FULL.fullmatch(at) or g.object_type(at) != "commit":
            out.append(f"a split record names data commit {at[:10]}, which is not a commit "
                       "in this repository")
    return out


def _more(found: list[str]) -> str:
    return f" (and {len(found) - 1} more)" if len(found) > 1 else ""


def _leaks(g: Git, records: list[dict[str, Any]], held: dict[tuple[str, str], Hashed | None]
           ) -> tuple[list[str], list[str]]:
    """(leaks, notes): training records asking for test, records whose assignment is not the
    one their data commit holds, and training items another evaluated assignment puts in test
    (items never move within one assignment's history, but a split made anew may move them)."""
    problems = [f"{_request(r)} asks for the test split" for r in rules.trains_on_test(records)]
    notes: list[str] = []
    for r in records:
        at = (r["data_commit"], r["assignment"])
        if at not in held:
            held[at] = _assignment(g, *at)
        if held[at] is None:
            notes.append(f"{_request(r)} cannot be checked: its data commit "
                         f"{r['data_commit'][:10]} does not hold assignment "
                         f"{r['assignment'][:10]} here.")
    tests = [r for r in records if r["purpose"] == "evaluate" and rules.HELD_OUT in
             rules.names_of(r)]
    for r in records:
        mine = held[(r["data_commit"], r["assignment"])]
        if r["purpose"] not in rules.TRAINING or mine is None:
            continue
        for t in tests:
            other = held[(t["data_commit"], t["assignment"])]
            if t["assignment"] == r["assignment"] or other is None:
                continue
            both = overlap(mine, rules.names_of(r), other, rules.HELD_OUT)
            if both:
                problems.append(f"{_request(r)} took {both} item(s) that assignment "
                                f"{t['assignment'][:10]}, evaluated on, puts in test")
    return problems, notes


def _request(r: Mapping[str, Any]) -> str:
    return (f"`split rows {r['split']} --for {r['purpose']}` of assignment "
            f"{str(r['assignment'])[:10]}")


def _assignment(g: Git, commit: str, digest: str) -> Hashed | None:
    """The assignment at `commit`, streamed and hashed (9 bytes a row), when it is here,
    within the checker's bounds and hashes to `digest` (else None: the record is reported as
    one that cannot be checked)."""
    if len(commit) < 40 or g.object_type(commit) != "commit":
        return None
    try:
        found = splitstream.assignment(g, commit)
    except UsageError:
        return None
    return found if found is not None and found.digest == digest else None
