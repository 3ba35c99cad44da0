"""`branchml split` on real repositories, and the checker's stability rule on `split`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from branchml.core.split import bucket
from tests.conftest import commit, git, snapshot


def fill_split(repo: Path, files: dict[str, str | bytes | None]) -> None:
    commit(repo, files, branch="split")


@pytest.mark.parametrize("fixture", ["project", "plain_project"])
def test_files_assigned_and_stable(fixture: str, request: pytest.FixtureRequest, bml) -> None:  # type: ignore[no-untyped-def]
    repo = request.getfixturevalue(fixture)
    fill_split(repo, {f"data/img/{i}.txt": f"{i}\n" for i in range(20)})
    r = bml("split", "--json", cwd=repo)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert sum(out["added"].values()) == 20
    first = (repo / "data/split/assignment.csv").read_text()
    assert first.splitlines()[0] == "key,split"
    assert f"data/img/3.txt,{bucket('data/img/3.txt', 0, (0.8, 0.1, 0.1))}" in first
    assert git("status", "--porcelain", cwd=repo) == ""
    fill_split(repo, {"data/img/new.txt": "n\n"})
    assert bml("split", cwd=repo).out.startswith("Assigned 1 new item(s) on split:")
    second = (repo / "data/split/assignment.csv").read_text()
    assert second.startswith(first)
    assert bml("split", cwd=repo).out == "Nothing to split: all 21 item(s) are assigned already.\n"


def test_rows_by_key(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    fill_split(plain_project, {"data/a.csv": "cust,x\nc1,1\nc2,2\nc1,3\n",
                               "data/b.jsonl": '{"cust": "c3"}\n{"cust": "c2"}\n'})
    r = bml("split", "--key", "cust", "--ratios", "0.5,0.5", "--seed", "7", "--json",
            cwd=plain_project)
    assert r.code == 0, r.err
    rows = (plain_project / "data/split/assignment.csv").read_text().splitlines()
    assert [x.split(",")[0] for x in rows[1:]] == ["c1", "c2", "c3"]
    params = json.loads((plain_project / "data/split/params.json").read_text())
    assert params == {"seed": 7, "ratios": [0.5, 0.5], "key": "cust"}
    r = bml("split", "--key", "cust", "--seed", "8", cwd=plain_project)
    assert r.code == 2 and "the split was made with" in r.err


@pytest.mark.parametrize(("args", "message"), [
    (["--ratios", "0.9,0.2"], "--ratios '0.9,0.2' must be two or three positive numbers that "
                              "add up to 1, like 0.8,0.1,0.1."),
    (["--key", "nope"], "--key 'nope' is not a column of data/a.csv (columns: cust, x)."),
])
def test_bad_input_changes_nothing(plain_project: Path, bml, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    fill_split(plain_project, {"data/a.csv": "cust,x\nc1,1\n"})
    before = snapshot(plain_project)
    r = bml("split", *args, cwd=plain_project)
    assert (r.code, r.err) == (2, f"branchml: error: {message}\n")
    assert snapshot(plain_project) == before


def test_dry_run(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    fill_split(plain_project, {"data/a.txt": "a\n"})
    before = snapshot(plain_project)
    assert bml("split", "--dry-run", cwd=plain_project).out.startswith("Would assign 1 new")
    assert snapshot(plain_project) == before


def test_check_rejects_moves_and_doubles(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    fill_split(plain_project, {"data/a.txt": "a\n", "data/b.txt": "b\n"})
    assert bml("split", "--ratios", "0.5,0.5", cwd=plain_project).code == 0
    base = git("rev-parse", "split", cwd=plain_project)
    text = (plain_project / "data/split/assignment.csv").read_text()
    name = "test" if "data/a.txt,train" in text else "train"
    moved = text.replace("data/a.txt,train", "data/a.txt,test").replace(
        "data/a.txt,test", f"data/a.txt,{name}", 1)
    commit(plain_project, {"data/split/assignment.csv": moved})
    r = bml("check", "--range", f"{base}..split", "--json", cwd=plain_project)
    assert r.code == 1
    assert [v["rule"] for v in json.loads(r.out)["violations"]] == ["split-stable"]
    git("reset", "-q", "--hard", base, cwd=plain_project)
    commit(plain_project, {"data/split/assignment.csv": text + "data/b.txt,val\n"})
    r = bml("check", "--range", f"{base}..split", cwd=plain_project)
    assert r.code == 1 and "item 'data/b.txt' is in two splits" in r.out
