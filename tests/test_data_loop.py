"""Issue 18, data: split reuses its recorded options, empty keys, one reading of rows, the
validation report, merge/pull summaries. Real git, real branchml commands through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from branchml.core.split import bucket
from tests.conftest import commit, snapshot


def on_split(repo: Path, files: dict[str, str | bytes | None]) -> None:
    commit(repo, files, branch="split")


def assigned(repo: Path) -> dict[str, str]:
    rows = (repo / "data/split/assignment.csv").read_text().splitlines()[1:]
    return dict(r.split(",") for r in rows)


# -- 1. split after new data: the recorded seed, ratios and key are reused ---------------------
def test_split_reuses_recorded_options_when_left_out(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    on_split(plain_project, {"data/a.csv": "cust,x\nc1,1\nc2,2\n"})
    r = bml("split", "--seed", "7", "--ratios", "0.5,0.5", "--key", "cust", cwd=plain_project)
    assert r.code == 0, r.err
    on_split(plain_project, {"data/a.csv": "cust,x\nc1,1\nc2,2\nc3,3\nc4,4\n"})
    r = bml("split", "--json", cwd=plain_project)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert (out["seed"], out["ratios"], out["key"]) == (7, [0.5, 0.5], "cust")
    assert sum(out["added"].values()) == 2
    got = assigned(plain_project)
    assert got == {k: bucket(k, 7, (0.5, 0.5)) for k in ("c1", "c2", "c3", "c4")}
    # the same values given again are not a difference
    on_split(plain_project, {"data/b.csv": "cust,x\nc5,5\n"})
    r = bml("split", "--seed", "7", "--ratios", "0.50,0.50", "--key", "cust", cwd=plain_project)
    assert r.code == 0, r.err
    assert assigned(plain_project)["c5"] == bucket("c5", 7, (0.5, 0.5))


def test_split_refuses_only_the_options_that_differ(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    on_split(plain_project, {"data/a.csv": "cust,x\nc1,1\n"})
    assert bml("split", "--seed", "7", "--key", "cust", cwd=plain_project).code == 0
    on_split(plain_project, {"data/a.csv": "cust,x\nc1,1\nc2,2\n"})
    before = snapshot(plain_project)
    r = bml("split", "--seed", "8", "--key", "cust", "--ratios", "0.8,0.1,0.1",
            cwd=plain_project)
    assert (r.code, r.err) == (2, (
        "branchml: error: the split was made with --seed 7 --ratios 0.8,0.1,0.1 --key cust, "
        "and new items must be assigned alike, but --seed 8 (recorded 7) differ: leave those "
        "options out to reuse the recorded values.\n"))
    r = bml("split", "--ratios", "0.6,0.4", "--key", "id", cwd=plain_project)
    assert r.code == 2
    assert "--ratios 0.6,0.4 (recorded 0.8,0.1,0.1); --key id (recorded cust) differ" in r.err
    assert snapshot(plain_project) == before


def test_split_by_files_refuses_a_key_later(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    on_split(plain_project, {"data/a.txt": "a\n"})
    assert bml("split", cwd=plain_project).code == 0
    r = bml("split", "--key", "id", cwd=plain_project)
    assert r.code == 2
    assert "--key id (recorded none: each file is an item) differ" in r.err
