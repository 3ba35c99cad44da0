"""Issue 18, two findings of a newcomer's walk of "Releases and runs":

1. `diff` showed the net row change of a data file (+268) where 269 rows were added and one
   cleaned away (carried by pulls.carry_removals): it now reports rows added and removed
   (multisets of row hashes), "net" where only counts are cheap, and leaves the split
   assignment's rows out of the folder's total.
2. `lineage` listed a validation report among the files that came from raw: a hop's files
   are now those the pull brought from its source; what the pull made itself is apart.

Real git, real git-lfs, the real loop raw -> clean --validate -> split -> stable."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from branchml.cli import render
from branchml.core.rowcount import rows_of
from branchml.core.rowdiff import RowSet, row_change, row_set
from branchml.core.rows import RowFormat
from tests.conftest import commit, git

CSV, JSONL = RowFormat.CSV, RowFormat.JSONL


# -- rows added and removed, as multisets of row hashes (pure) ----------------------------------

CHANGES = [
    # (format, before, after, (added, removed))
    (CSV, b"id\n1\n2\n", b"id\n1\n2\n3\n", (1, 0)),  # appended
    (CSV, b"id\n1\n2\n3\n", b"id\n1\n3\n4\n5\n", (2, 1)),  # one cleaned away, two new
    (CSV, b"id\n1\n1\n", b"id\n1\n", (0, 1)),  # a copy of a row is a row
    (CSV, b"id\n1\n", b"id\n1\n1\n1\n", (2, 0)),
    (CSV, b"id\n1\n2\n", b"id\n2\n1\n", (0, 0)),  # reordered: the same rows
    (CSV, b"id\r\n1\r\n2\r\n", b"id\n1\n2\n", (0, 0)),  # CRLF ends a row as LF does
    (CSV, b"id\n1\n\n2\n", b"id\n\n1\n2\n\n", (0, 0)),  # blank lines are no rows
    (CSV, b"id\n1\n", b"key\n1\n", (0, 0)),  # the header is no row
    (CSV, b"\xef\xbb\xbfid\n1\n", b"id\n1\n", (0, 0)),  # nor is a BOM
    (CSV, b'id\n"a\nb"\n', b'id\n"a\nb"\n"c"\n', (1, 0)),  # a quoted LF is inside one row
    (CSV, b"id\n1\r2\n", b"id\n1\n2\n", (2, 1)),  # a bare CR ends no row: "1\r2" is one
    (JSONL, b'{"x": 1}\n{"x": 2}\n', b'{"x": 2}\n{"x": 3}', (1, 1)),  # last row unterminated
    (JSONL, b"", b'{"x": 1}\n', (1, 0)),
    (RowFormat.TSV, b"a\tb\n1\t2\n", b"a\tb\n", (0, 1)),
]


@pytest.mark.parametrize(("fmt", "before", "after", "expected"), CHANGES)
def test_rows_added_and_removed(fmt: RowFormat, before: bytes, after: bytes,
                                expected: tuple[int, int]) -> None:
    a, b = row_set(io.BytesIO(before), fmt), row_set(io.BytesIO(after), fmt)
    assert tuple(row_change(a, b) or ()) == expected
    # the rows compared are the rows counted: the counts are `rows_of`'s, and net adds up
    assert (a.rows, b.rows) == (rows_of(io.BytesIO(before), fmt), rows_of(io.BytesIO(after), fmt))
    assert expected[0] - expected[1] == b.rows - a.rows


@pytest.mark.parametrize("seed", range(5))
def test_rows_compared_as_multisets_like_a_counter(seed: int) -> None:
    """Random rows with many copies: the same figures as counting each row's copies."""
    rnd = random.Random(seed)
    before = [b"%d" % rnd.randrange(40) for _ in range(300)]
    after = [b"%d" % rnd.randrange(50) for _ in range(rnd.randrange(500))]
    old, new = Counter(before), Counter(after)
    a = row_set(io.BytesIO(b"".join(r + b"\n" for r in before)), JSONL)
    b = row_set(io.BytesIO(b"".join(r + b"\n" for r in after)), JSONL)
    assert row_change(a, b) == (sum((new - old).values()), sum((old - new).values()))


def test_rows_across_many_read_batches() -> None:
    """Rows spread over several 256 KiB batches are hashed batch by batch and joined."""
    before = b"id,v\n" + b"".join(b"%d,%d\n" % (i, i * 7) for i in range(60_000))
    after = before.replace(b"\n17,119\n", b"\n") + b"60000,0\n60001,0\n"
    a, b = row_set(io.BytesIO(before), CSV), row_set(io.BytesIO(after), CSV)
    assert (a.rows, b.rows, row_change(a, b)) == (60_000, 60_001, (2, 1))


def test_past_the_row_bound_only_the_net_figure_is_kept() -> None:
    """Hashes are kept for up to MAX_ROWS rows a version (8 bytes each): past that the file
    is still counted, and its change is the net figure (None here; `diff` says "net")."""
    big = row_set(io.BytesIO(b"id\n1\n2\n3\n"), CSV, max_rows=2)
    small = row_set(io.BytesIO(b"id\n1\n"), CSV, max_rows=2)
    assert (big.rows, big.hashes) == (3, None)
    assert row_change(small, big) is None
    # a version with no rows needs no comparison: a new or emptied file is exact anyway
    assert row_change(RowSet(0, None), big) == (3, 0)
    assert row_change(big, RowSet(0, None)) == (0, 3)


def test_text_says_net_where_only_counts_are_known(capsys: pytest.CaptureFixture[str]) -> None:
    files = [{"path": "data/arr.json", "change": "modified", "format": "json",
              "validation_report": False, "split_assignment": False, "rows_before": 2,
              "rows_after": 5, "rows_added": None, "rows_removed": None, "rows_net": 3}]
    render.diff_text({"from": "acme-v1", "to": "acme-v2", "code_changed": [],
                      "data": {"data": {"files_added": 0, "bytes_added": 9, "rows_added": None,
                                        "rows_removed": None, "rows_net": 3}},
                      "files": files, "models_changed": [], "params": {}, "metrics": {}})
    out = capsys.readouterr().out
    assert "  data data/: +0 files, +9 bytes, net +3 row(s)\n" in out
    assert "    data/arr.json: net +3 row(s) (2 -> 5)\n" in out


# -- the real loop ---------------------------------------------------------------------------

def patients(ids: range, bad: bool = False) -> str:
    return "id,x\n" + "".join(f"{i},{i * 3}\n" for i in ids) + ("99,bad,extra\n" if bad else "")


@pytest.fixture
def loop(project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """raw (with a bad row) -> clean --validate -> split (assigned) -> stable/model, tagged
    acme-v1; then a row cleaned away on clean, new rows on raw, the same pulls again (the
    removal carried by clean -> split -> stable), retrained and tagged acme-v2."""
    def pull(src: str, dst: str, *extra: str) -> None:
        git("checkout", "-q", dst, cwd=project)
        r = bml("pull", src, dst, *extra, cwd=project)
        assert r.code == 0, r.err

    def split() -> None:
        git("checkout", "-q", "split", cwd=project)
        r = bml("split", "--key", "id", cwd=project)
        assert r.code == 0, r.err

    commit(project, {"data/patients.csv": patients(range(1, 6), bad=True)}, branch="raw")
    pull("raw", "clean", "--validate")
    pull("clean", "split")
    split()
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    pull("split", "stable/model")
    commit(project, {"models/model.pkl": "w1"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=project).code == 0

    git("checkout", "-q", "clean", cwd=project)
    cleaned = (project / "data/patients.csv").read_text().replace("2,6\n", "")
    commit(project, {"data/patients.csv": cleaned}, msg="clean: drop patient 2", branch="clean")
    commit(project, {"data/patients.csv": patients(range(1, 9), bad=True)}, branch="raw")
    pull("raw", "clean", "--validate")
    pull("clean", "split")
    split()
    pull("split", "stable/model")
    commit(project, {"models/model.pkl": "w2"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    return project


def reports(repo: Path, rev: str) -> list[str]:
    out = git("ls-tree", "-r", "--name-only", rev, "--", "data/_validation", cwd=repo)
    return out.splitlines()


def test_diff_shows_rows_added_and_the_row_cleaned_away(loop: Path, bml) -> None:  # type: ignore[no-untyped-def]
    # acme-v2 (checked out) really lost patient 2 and gained 6, 7, 8; the bad row never came
    assert git("rev-parse", "HEAD", cwd=loop) == git("rev-parse", "acme-v2^{commit}", cwd=loop)
    ids = [ln.split(",")[0] for ln in (loop / "data/patients.csv").read_text().splitlines()]
    assert ids == ["id", "1", "3", "4", "5", "6", "7", "8"]
    r = bml("diff", "acme-v1", "acme-v2", "--json", cwd=loop)
    assert r.code == 0, r.err
    d = json.loads(r.out)
    files: dict[str, dict[str, Any]] = {f["path"]: f for f in d["files"]}
    data = files["data/patients.csv"]
    assert (data["rows_before"], data["rows_after"], data["rows_added"], data["rows_removed"],
            data["rows_net"], data["split_assignment"]) == (5, 7, 3, 1, 2, False)
    assignment = files["data/split/assignment.csv"]
    assert (assignment["split_assignment"], assignment["rows_added"],
            assignment["rows_removed"]) == (True, 3, 0)  # items stay assigned: none removed
    # the folder's total counts the data rows only: not the assignment's, nor the report's
    assert {k: d["data"]["data"][k] for k in ("rows_added", "rows_removed", "rows_net")} == {
        "rows_added": 3, "rows_removed": 1, "rows_net": 2}
    (report,) = set(reports(loop, "acme-v2")) - set(reports(loop, "acme-v1"))

    text = bml("diff", "acme-v1", "acme-v2", cwd=loop).out
    assert "  data data/: +1 files, " in text and ", +3 -1 row(s)\n" in text
    assert "    data/patients.csv: +3 -1 row(s) (5 -> 7)\n" in text
    assert ("    data/split/assignment.csv: split assignment: +3 row(s) (5 -> 8), "
            "not counted as data rows\n") in text
    assert f"    {report}: validation report (new)\n" in text


def hops(repo: Path, bml, rev: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    r = bml("lineage", "models/model.pkl", "--rev", rev, "--json", cwd=repo)
    assert r.code == 0, r.err
    return json.loads(r.out)["chain"]["hops"]  # type: ignore[no-any-return]


def test_lineage_hop_files_leave_out_the_report_the_pull_made(loop: Path, bml) -> None:  # type: ignore[no-untyped-def]
    chain = hops(loop, bml, "acme-v2")
    assert [h["branch"] for h in chain] == ["split", "clean", "raw"]
    split_hop, clean_hop, raw_hop = chain
    report = f"data/_validation/pull-{raw_hop['commit'][:10]}.json"
    assert git("cat-file", "-t", f"{raw_hop['via']}:{report}", cwd=loop) == "blob"
    # the pull into clean wrote the report: it did not come from raw
    assert (raw_hop["files"], raw_hop["files_total"]) == (["data/patients.csv"], 1)
    assert (raw_hop["made_by_pull"], raw_hop["made_by_pull_total"]) == ([report], 1)
    # raw's file held the bad row, clean's does not: brought, and merged by the pull
    assert raw_hop["merged"] == ["data/patients.csv"]
    # from clean on, the report is a file of the source, brought as it was
    for hop in (clean_hop, split_hop):
        assert report in hop["files"] and hop["made_by_pull"] == []
    assert "data/split/assignment.csv" in split_hop["files"]

    text = bml("lineage", "models/model.pkl", "--rev", "acme-v2", cwd=loop).out
    assert (f"via {raw_hop['via'][:10]}: 1 data file(s): data/patients.csv; "
            f"made by the pull: {report}\n") in text


def test_a_file_slipped_into_a_pull_merge_is_not_passed_off_as_the_source(  # type: ignore[no-untyped-def]
        loop: Path, bml, tmp_path: Path) -> None:
    """A merge made by hand that pulls split (its trailer proven: split's tip is its second
    parent) but also adds a data file split never held: the file is listed as made by the
    pull, never among those that came from split. Its twin, a file split does hold, brought
    by the same merge with split's content, is listed as brought."""
    split_tip = commit(loop, {"data/more.csv": "id,x\n9,27\n"}, branch="split")
    stable = git("rev-parse", "stable/model", cwd=loop)
    slipped = git("hash-object", "-w", "--stdin", cwd=loop, input="id,x\n666,0\n")
    more = git("rev-parse", f"{split_tip}:data/more.csv", cwd=loop)
    env = {**os.environ, "GIT_INDEX_FILE": str(tmp_path / "hand.index")}
    for args in (["read-tree", stable],
                 ["update-index", "--add", "--cacheinfo", f"100644,{slipped},data/slipped.csv"],
                 ["update-index", "--add", "--cacheinfo", f"100644,{more},data/more.csv"]):
        subprocess.run(["git", *args], cwd=loop, env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=loop, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    merge = git("commit-tree", tree, "-p", stable, "-p", split_tip, "-m",
                f"pull split\n\nPulled-From: split {split_tip}\n", cwd=loop)
    git("update-ref", "refs/heads/stable/model", merge, stable, cwd=loop)
    hop = hops(loop, bml, merge)[0]
    assert (hop["via"], hop["commit"], hop["proven"]) == (merge, split_tip, True)
    assert (hop["files"], hop["merged"]) == (["data/more.csv"], [])
    assert (hop["made_by_pull"], hop["made_by_pull_total"]) == (["data/slipped.csv"], 1)
