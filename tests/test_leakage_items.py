"""Issue 18, a newcomer's walk of the leakage guard: "evaluate on test only once" is about the
test ITEMS (new data, a new assignment digest, must not hide a second evaluation of the old
test items), and `split rows` on stable reads stable's data, not split's newer rows; `tag`
warns when a request's data is not in the release's own history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from branchml.core import leakage as rules
from branchml.core.assignments import Hashed, read_hashed
from branchml.core.split import bucket
from branchml.ops import evalonce
from tests.conftest import commit, git, split_into_stable

FIRST = 200  # ids 0..199 arrive first, 200..399 later: ~10% of each batch lands in test
AGAIN = "evaluate on test only once (a new test set needs new data)."


def rows(ids: range) -> str:
    return "".join(f"{i},{i * 2}\n" for i in ids)


def held_out(ids: range) -> list[str]:
    return [str(i) for i in ids if bucket(str(i), 0, (0.8, 0.1, 0.1)) == "test"]


@pytest.fixture
def stable(project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """The first batch split (keyed by id) and pulled into stable/model, checked out."""
    return split_into_stable(project, bml, "id,x\n" + rows(range(FIRST)))


def new_data(repo: Path, bml, ids: range, into_stable: bool = True) -> None:  # type: ignore[no-untyped-def]
    """A batch arrives on raw, reaches split, is assigned (old items keep their split), and
    (unless told) is pulled into stable/model, which is checked out again."""
    commit(repo, {"data/d.csv": "id,x\n" + rows(range(ids.stop))}, branch="raw")
    for src, dst in (("raw", "clean"), ("clean", "split")):
        assert bml("pull", src, dst, cwd=repo).code == 0
    r = bml("split", "--key", "id", cwd=repo)
    assert r.code == 0, r.err
    if into_stable:
        assert bml("pull", "split", "stable/model", cwd=repo).code == 0
    git("checkout", "-q", "stable/model", cwd=repo)


def evaluate(repo: Path, bml, weights: str, *extra: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """`split rows test --for evaluate` (read back), then the training commit."""
    out = repo.parent / "test.csv"
    r = bml("split", "rows", "test", "-o", str(out), "--for", "evaluate", "--json", *extra,
            cwd=repo)
    assert r.code == 0, r.err
    got: dict[str, Any] = json.loads(r.out)
    got["ids"] = [line.split(",")[0] for line in out.read_text().splitlines()[1:]]
    commit(repo, {"models/model.pkl": weights, "tracking/metrics.json": '{"acc": 0.9}',
                  "tracking/splits.jsonl": (repo / "tracking/splits.jsonl").read_text()})
    return got


def tag(repo: Path, bml) -> Any:  # type: ignore[no-untyped-def]
    return bml("tag", "--client", "acme", cwd=repo)


def test_new_items_do_not_hide_a_second_evaluation_of_the_old_test_items(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The walk: acme-v1 evaluated on test; new data arrives and split assigns it (a new
    digest); acme-v2 evaluates on test again, old test items included: warned, by count."""
    first = evaluate(stable, bml, "w1")
    assert first["ids"] == held_out(range(FIRST))
    r = tag(stable, bml)
    assert (r.code, r.err) == (0, ""), r.err
    new_data(stable, bml, range(FIRST, 2 * FIRST))
    second = evaluate(stable, bml, "w2")
    assert second["assignment"] != first["assignment"]  # the digest alone said nothing
    assert second["ids"] == held_out(range(2 * FIRST))
    r = tag(stable, bml)
    old, now = len(held_out(range(FIRST))), len(held_out(range(2 * FIRST)))
    assert (r.code, r.err) == (0, f"branchml: warning: {old} of the {now} test items this "
                                  "release of acme evaluates on were already used for "
                                  f"evaluation by acme-v1: {AGAIN}\n")
    new_data(stable, bml, range(2 * FIRST, 3 * FIRST))  # and once more: both named
    evaluate(stable, bml, "w3")
    r = tag(stable, bml)
    now, third = len(held_out(range(3 * FIRST))), len(held_out(range(2 * FIRST)))
    assert (r.code, r.err) == (0, f"branchml: warning: {third} of the {now} test items this "
                                  "release of acme evaluates on were already used for "
                                  f"evaluation by acme-v1, acme-v2: {AGAIN}\n")


def test_a_new_test_set_of_new_items_only_is_not_warned(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """The legitimate twin: after acme-v1 the team sets the burnt test items aside (a split
    made anew: every old item in train, the new items split) and evaluates on the new test
    items only: no overlap, no warning."""
    evaluate(stable, bml, "w1")
    assert tag(stable, bml).code == 0
    new_data(stable, bml, range(FIRST, 2 * FIRST), into_stable=False)
    fresh = "key,split\n" + "".join(
        f"{i},{'train' if i < FIRST else bucket(str(i), 0, (0.8, 0.1, 0.1))}\n"
        for i in range(2 * FIRST))
    commit(stable, {"data/split/assignment.csv": fresh}, branch="split")
    assert bml("pull", "split", "stable/model", cwd=stable).code == 0
    git("checkout", "-q", "stable/model", cwd=stable)
    second = evaluate(stable, bml, "w2")
    assert second["ids"] == held_out(range(FIRST, 2 * FIRST))
    r = tag(stable, bml)
    assert (r.code, r.err) == (0, "")


def test_split_rows_on_stable_reads_stables_data_not_splits_newer_rows(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """split one commit ahead of stable/model: training on stable reads stable's rows."""
    head = git("rev-parse", "HEAD", cwd=stable)
    new_data(stable, bml, range(FIRST, 2 * FIRST), into_stable=False)
    assert git("rev-parse", "HEAD", cwd=stable) == head  # stable did not move
    got = evaluate(stable, bml, "w1")
    assert got["ids"] == held_out(range(FIRST))  # none of split's newer rows
    assert (got["data_commit"], got["branch"]) == (head, "stable/model")
    r = tag(stable, bml)
    assert (r.code, r.err) == (0, "")


def test_a_request_read_from_split_ahead_of_stable_is_warned_at_tag(stable: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A request made with `--rev split` (or by an older branchml) while split is ahead:
    its rows are not the release's data; `tag` says so, naming both commits (a warning:
    under the default refuse too, since reading older data can be meant)."""
    new_data(stable, bml, range(FIRST, 2 * FIRST), into_stable=False)
    split_tip = git("rev-parse", "split", cwd=stable)
    got = evaluate(stable, bml, "w1", "--rev", "split")
    assert got["data_commit"] == split_tip and got["ids"] == held_out(range(2 * FIRST))
    release = git("rev-parse", "HEAD", cwd=stable)
    r = tag(stable, bml)
    assert r.code == 0
    assert r.err == (f"branchml: warning: `split rows test --for evaluate` of assignment "
                     f"{got['assignment'][:10]} read the data of split {split_tip[:10]}, which "
                     f"is not the release commit {release[:10]} nor on its first-parent line: "
                     "the rows may not be the data this release holds (run `split rows` on "
                     "the release's branch, which reads the checked-out commit).\n")
    assert git("tag", "--list", "acme-v1", cwd=stable) == "acme-v1"


# -- the rule itself, on hashed assignments (no repository: core and the pure rule) ----------

def hashed(assignment: dict[str, str]) -> Hashed:
    text = "key,split\n" + "".join(f"{k},{s}\n" for k, s in assignment.items())
    return read_hashed([text.encode()], 1 << 16, 1 << 20)


def record(digest: str, commit: str = "c" * 40, split: str = "test") -> dict[str, Any]:
    return {"split": split, "purpose": "evaluate", "assignment": digest, "data_commit": commit}


def test_only_the_newest_releases_are_compared_and_the_cap_is_said() -> None:
    both = hashed({"a": "test", "b": "test", "c": "train"})
    earlier = [(f"acme-v{n}", [record(both.digest)]) for n in range(1, rules.EARLIER_CAP + 3)]
    found = evalonce.warnings("acme", [record(both.digest)], lambda c, d: both, earlier)
    tags = ", ".join(f"acme-v{n}" for n in range(3, 3 + evalonce.NAMED))
    tags += f" and {rules.EARLIER_CAP - evalonce.NAMED} more"  # the newest 50, 10 named
    assert found == [
        f"2 of the 2 test items this release of acme evaluates on were already used for "
        f"evaluation by {tags}: {AGAIN}",
        f"only the newest {rules.EARLIER_CAP} of the {rules.EARLIER_CAP + 2} earlier releases "
        "of acme that evaluated on test were compared with this release's test items."]


def test_each_distinct_earlier_assignment_is_read_once() -> None:
    old = hashed({"a": "test", "b": "train"})
    new = hashed({"a": "test", "b": "train", "c": "test"})
    reads: list[str] = []

    def read(commit: str, digest: str) -> Hashed | None:
        reads.append(digest)
        return {old.digest: old, new.digest: new}.get(digest)

    earlier = [("acme-v1", [record(old.digest)]), ("acme-v2", [record(old.digest, "d" * 40)])]
    found = evalonce.warnings("acme", [record(new.digest)], read, earlier)
    assert found == [f"1 of the 2 test items this release of acme evaluates on were already "
                     f"used for evaluation by acme-v1, acme-v2: {AGAIN}"]
    assert reads == [new.digest, old.digest]


def test_an_earlier_assignment_not_here_is_said_and_a_forged_manifest_is_ignored() -> None:
    mine = hashed({"a": "test"})
    earlier: list[tuple[str, Any]] = [
        ("acme-v1", [record("f" * 64)]),  # its data commit is not here
        ("acme-v2", "not a list"), ("acme-v3", [7, None, {"purpose": "evaluate"}]),
        ("acme-v4", [record(mine.digest, split="train")])]  # evaluated on train: not test
    found = evalonce.warnings("acme", [record(mine.digest)],
                              lambda c, d: mine if d == mine.digest else None, earlier)
    assert found == ["the test items of acme-v1 cannot be compared with this release's: their "
                     "records' data commits do not hold their assignments here."]


def test_a_release_whose_own_assignment_is_not_here_falls_back_to_the_digest() -> None:
    earlier = [("acme-v1", [record("e" * 64)]), ("acme-v2", [record("b" * 64)])]
    found = evalonce.warnings("acme", [record("e" * 64)], lambda c, d: None, earlier)
    assert found == [f"the test split of assignment eeeeeeeeee was already used for evaluation "
                     f"by acme-v1: {AGAIN}"]
