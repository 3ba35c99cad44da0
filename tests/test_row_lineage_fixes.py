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


def _retag(repo: Path, bml, tmp: Path, model: str, ask: tuple[str, str] | None) -> None:  # type: ignore[no-untyped-def]
    """Another release of acme on stable/model: a new model, trained on `ask` alone when
    given (tracking/splits.jsonl rewritten to that request), else on the same requests."""
    if ask is not None:
        (repo / "tracking/splits.jsonl").unlink()
        r = bml("split", "rows", ask[0], "-o", str(tmp / f"{model}.csv"), "--for", ask[1],
                cwd=repo)
        assert r.code == 0, r.err
    commit(repo, {"models/model.bin": model,
                  "tracking/splits.jsonl": (repo / "tracking/splits.jsonl").read_text()})
    assert bml("tag", "--client", "acme", cwd=repo).code == 0


def test_impact_current_judges_only_the_newest_and_deployed_releases(
        released, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, trained = released
    _retag(repo, bml, tmp_path, "w2", None)                   # acme-v2: the same rows
    assert bml("deploy", "acme-v2", "--client", "acme", cwd=repo).code == 0
    f = tmp_path / "withdraw.csv"
    f.write_text(f"id,x\n{trained[0]}\n")                     # a training row
    r = bml("impact", "--rows", str(f), "--current", "--json", cwd=repo)
    out = json.loads(r.out)
    assert r.code == 1 and out["held"] is True                # acme-v2 is newest and deployed
    assert out["clients"] == {"acme": {"newest": "acme-v2", "deployed": ["acme-v2"]}}
    marks = {x["tag"]: (x["newest"], x["deployed"], x["current"]) for x in out["releases"]}
    assert marks == {"acme-v1": (False, False, False), "acme-v2": (True, True, True)}
    # acme-v3 trained on val alone, deployed; v1, v2 are history. Its commit's data still
    # holds the row (issue 21 fl2: what a release holds is judged, not only its selection)
    _retag(repo, bml, tmp_path, "w3", ("val", "tune"))
    assert bml("deploy", "acme-v3", "--client", "acme", cwd=repo).code == 0
    r = bml("impact", "--rows", str(f), "--current", cwd=repo)
    assert r.code == 1, r.out + r.err
    assert "  release acme-v1 (history) trained on 1 row of them" in r.out
    assert "  release acme-v3 (newest, deployed) trained on 0 rows of them, its data holds 1" \
        in r.out
    # the withdrawal done: the row removed from acme-v4's data too
    data = (repo / "data/d.csv").read_text().replace(f"{trained[0]}\n", "")
    commit(repo, {"data/d.csv": data})
    _retag(repo, bml, tmp_path, "w4", None)
    assert bml("deploy", "acme-v4", "--client", "acme", cwd=repo).code == 0
    r = bml("impact", "--rows", str(f), "--current", cwd=repo)
    assert r.code == 0, r.out + r.err
    assert "No newest or deployed release holds these rows" in r.out
    r = bml("impact", "--rows", str(f), cwd=repo)             # without --current: history counts
    assert r.code == 1 and "  release acme-v1 trained on 1 row" in r.out


def test_impact_of_an_upload_resending_earlier_rows_agrees_with_lineage(
        released, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, a, _, trained = released
    resent = [f"{i},{i * 2}" for i in range(5)]              # 5 rows of upload 1
    c = commit(repo, {"data/again.csv": "id,x\n" + "".join(
        f"{x}\n" for x in [*resent, "900,1", "901,2"])}, "resend", branch="raw")
    out = json.loads(bml("impact", "--from", c, "--json", cwd=repo).out)
    assert out["rows"] == 7
    assert out["shared_with_earlier"] == {"rows": 5, "uploads": [a]}
    held = sum(1 for x in trained if x in resent)
    [v1] = out["releases"]
    assert (v1["tag"], v1["rows"], v1["shared_with_earlier"], v1["before_upload"]) == \
        ("acme-v1", held, held, True)
    lineage = json.loads(bml("lineage", "models/model.bin", "--rev", "acme-v1", "--rows",
                             "--json", cwd=repo).out)["rows"]
    assert c not in {u["commit"] for u in lineage["uploads"]}  # lineage: the earliest upload
    text = bml("impact", "--from", c, cwd=repo).out
    assert f"5 of them an earlier upload added first ({a[:10]})" in text
    assert "tagged before this upload, it holds them only through earlier uploads" in text


def test_impact_of_an_upload_of_new_rows_shares_none(released, bml) -> None:  # type: ignore[no-untyped-def]
    repo = released[0]
    c = commit(repo, {"data/new.csv": "id,x\n900,1\n901,2\n"}, "new rows", branch="raw")
    out = json.loads(bml("impact", "--from", c, "--json", cwd=repo).out)
    assert out["shared_with_earlier"] == {"rows": 0, "uploads": []} and out["releases"] == []


def test_impact_explains_a_release_holding_more_rows_than_the_upload_has(
        project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    a = commit(project, {"data/d.csv": "id,x\n1,2\n3,4\n"}, "upload", branch="raw")
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    assert bml("pull", "raw", "clean", cwd=project).code == 0
    commit(project, {"data/d.csv": "id,x\n1,2\n3,4\n1,2\n1,2\n"}, "repeat", branch="clean")
    assert bml("pull", "clean", "split", cwd=project).code == 0
    assert bml("pull", "split", "stable/model", cwd=project).code == 0
    git("checkout", "-q", "stable/model", cwd=project)
    commit(project, {"models/model.bin": "w"})
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    r = bml("impact", "--from", a, cwd=project)
    assert r.code == 1, r.err
    assert "trained on 4 rows of them (more than the 2 distinct rows withdrawn: some rows " \
        "are in its training data more than once)" in r.out
    [v1] = json.loads(bml("impact", "--from", a, "--json", cwd=project).out)["releases"]
    assert (v1["before_upload"], v1["shared_with_earlier"]) == (False, 0)  # pulled through


def test_impact_reports_keys_left_in_the_split_assignments(released, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, trained = released
    f = tmp_path / "withdraw.csv"
    f.write_text(f"id,x\n{trained[0]}\n{trained[1]}\n")
    out = json.loads(bml("impact", "--rows", str(f), "--json", cwd=repo).out)
    left = {x["branch"]: (x["key"], x["assignment_keys"], x["reports"])
            for x in out["left_behind"]}
    assert left == {"split": ("id", 2, []), "stable/model": ("id", 2, [])}
    text = bml("impact", "--rows", str(f), cwd=repo).out
    assert "  branch split: its split assignment still lists 2 keys of these rows (id)" in text
    # the legit twin: rows of no item (never split) leave no key behind
    late = commit(repo, {"data/late.csv": "id,x\n100,1\n"}, "late upload", branch="raw")
    out = json.loads(bml("impact", "--from", late, "--json", cwd=repo).out)
    assert out["left_behind"] == []


def test_impact_reports_a_validation_report_quoting_a_withdrawn_row(
        project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    up = commit(project, {"data/v.csv": "id,x\n1,2\n7,8,9\n"}, "upload", branch="raw")
    assert bml("pull", "raw", "clean", "--validate", cwd=project).code == 0
    reports = git("ls-tree", "-r", "--name-only", "clean", "data/_validation", cwd=project)
    assert reports.startswith("data/_validation/pull-")
    out = json.loads(bml("impact", "--from", up, "--json", cwd=project).out)
    assert out["left_behind"] == [{"branch": "clean", "commit": out["left_behind"][0]["commit"],
                                   "key": None, "assignment_keys": None,
                                   "reports": [reports.strip()]}]
    f = tmp_path / "kept.csv"
    f.write_text("id,x\n1,2\n")  # the twin: a row the report does not quote
    out = json.loads(bml("impact", "--rows", str(f), "--json", cwd=project).out)
    assert out["left_behind"] == []
