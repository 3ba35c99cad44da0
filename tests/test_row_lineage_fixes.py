"""Issue 21 fix round (fl): row lineage and `impact` as a newcomer read them on real data.
Real git, real repositories; the scenario is tests/test_row_lineage.py's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import commit, git
from tests.test_row_lineage import _cleaned, _expected, _uploads


def _requests(repo: Path, bml, tmp: Path, asks: list[tuple[str, str]]) -> list[str]:  # type: ignore[no-untyped-def]
    """Code promoted, split pulled into stable/model, each `split rows NAMES --for PURPOSE`
    of `asks` in turn, a model, acme-v1. Returns the union of the training rows written."""
    commit(repo, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=repo).code == 0
    assert bml("pull", "split", "stable/model", cwd=repo).code == 0
    git("checkout", "-q", "stable/model", cwd=repo)
    rows: set[str] = set()
    for i, (names, purpose) in enumerate(asks):
        out = tmp / f"r{i}.csv"
        r = bml("split", "rows", names, "-o", str(out), "--for", purpose, cwd=repo)
        assert r.code == 0, r.err
        rows.update(out.read_text().splitlines()[1:])
    commit(repo, {"models/model.bin": "w1",
                  "tracking/splits.jsonl": (repo / "tracking/splits.jsonl").read_text()})
    assert bml("tag", "--client", "acme", cwd=repo).code == 0
    return sorted(rows)


@pytest.mark.parametrize("asks", [
    [("train", "train"), ("train", "train")],          # the same request twice
    [("train", "train"), ("train,val", "tune")],       # train, then train+val to tune
    [("train,val", "tune"), ("val", "tune"), ("train", "train")],
])
def test_repeated_training_requests_count_each_row_once(
        project: Path, bml, tmp_path: Path, asks: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    a, b = _uploads(project)
    _cleaned(project, bml)
    trained = _requests(project, bml, tmp_path, asks)
    records = (project / "tracking/splits.jsonl").read_text().splitlines()
    assert len(records) == len(asks)  # the duplicate records are there: read as one union
    one, two, unmatched = _expected(trained)
    r = bml("lineage", "models/model.bin", "--rev", "acme-v1", "--rows", "--json",
            cwd=project)
    rows = json.loads(r.out)["rows"]
    assert rows["total"] == len(trained) and rows["unmatched"] == unmatched
    assert {u["commit"]: u["rows"] for u in rows["uploads"]} == {
        k: v for k, v in ((a, one), (b, two)) if v}
    for upload, held in ((a, one), (b, two)):
        out = json.loads(bml("impact", "--from", upload, "--json", cwd=project).out)
        assert [x["rows"] for x in out["releases"]] == [held]
    f = tmp_path / "withdraw.csv"
    f.write_text("id,x\n" + "".join(f"{row}\n" for row in trained))
    out = json.loads(bml("impact", "--rows", str(f), "--json", cwd=project).out)
    assert [x["rows"] for x in out["releases"]] == [len(trained)]


@pytest.fixture
def released(project: Path, bml, tmp_path: Path):  # type: ignore[no-untyped-def]
    a, b = _uploads(project)
    _cleaned(project, bml)
    trained = _requests(project, bml, tmp_path, [("train", "train")])
    return project, a, b, trained


@pytest.mark.parametrize("rows", [
    "id,x\n3,6.0\n4,8.0\n",   # `6.0` for `6`
    "id;x\n3;6\n4;8\n",       # another separator
])
def test_impact_rows_found_nowhere_warns_and_exits_0(released, bml, tmp_path: Path,
                                                     rows: str) -> None:  # type: ignore[no-untyped-def]
    repo = released[0]
    f = tmp_path / "withdraw.csv"
    f.write_text(rows)
    r = bml("impact", "--rows", str(f), "--json", cwd=repo)
    assert r.code == 0, r.err
    assert json.loads(r.out)["found_anywhere"] == 0
    assert "none of the 2 rows is on any branch, raw included" in r.err
    text = bml("impact", "--rows", str(f), cwd=repo)
    assert text.code == 0 and "check " + str(f) + "'s header and formatting" in text.err
    assert "No release" not in text.out  # no all-clear beside the warning


def test_impact_and_lineage_text_say_one_row_not_1_rows(released, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = released[0]
    late = commit(repo, {"data/late.csv": "id,x\n100,1\n"}, "late upload", branch="raw")
    r = bml("impact", "--from", late, cwd=repo)
    assert r.code == 0, r.err
    assert "1 row to withdraw" in r.out and "holds 1 row of them" in r.out
    assert "1 rows" not in r.out
    r = bml("lineage", "models/model.bin", "--rev", "acme-v1", "--rows", cwd=repo)
    assert r.code == 0, r.err
    assert "1 rows" not in r.out and "1 uploads" not in r.out
