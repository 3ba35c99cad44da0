"""Issue 21, a hostile reviewer's findings on `impact` and `lineage --rows` (fl2): a release's
split records are not what it holds (inherited, or naming another commit), a record naming no
commit, and data files of no row format. Real git, real repositories; each attack beside a
legitimate twin (/work/atk21/findings/02, 03, 13)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import commit, copied_fixtures, git
from tests.test_row_lineage import UP1, UP2, _release

project = copied_fixtures()


BOGUS = "0123456789abcdef0123456789abcdef01234567"


def _first(repo: Path, bml, tmp: Path) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """Upload 1 (ids 0-19) pulled raw -> clean -> split, split by id, acme-v1 trained on
    `split rows train`. Returns the upload and the training rows."""
    u1 = commit(repo, {"data/d.csv": "id,x\n" + UP1}, "upload 1", branch="raw")
    for a, b in (("raw", "clean"), ("clean", "split")):
        assert bml("pull", a, b, cwd=repo).code == 0
    assert bml("split", "--key", "id", cwd=repo).code == 0
    return u1, _release(repo, bml, tmp)


def _impact(repo: Path, bml, upload: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def,type-arg]
    r = bml("impact", "--from", upload, "--json", cwd=repo)
    assert r.code in (0, 1), r.err
    return r.code, json.loads(r.out)


def _by_tag(out: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {x["tag"]: x for x in out["releases"]}


def test_a_release_whose_split_records_are_stale_is_held_by_its_data(
        project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Finding 02: acme-v2 inherits acme-v1's split record (splits.jsonl only grows) though
    its commit's data/d.csv holds upload 2's 20 rows: `impact --from U2` must say so."""
    u1, trained = _first(project, bml, tmp_path)
    u2 = commit(project, {"data/d.csv": "id,x\n" + UP1 + UP2}, "upload 2", branch="raw")
    for a, b in (("raw", "clean"), ("clean", "split")):
        assert bml("pull", a, b, cwd=project).code == 0
    assert bml("split", "--key", "id", cwd=project).code == 0
    assert bml("pull", "split", "stable/model", cwd=project).code == 0
    commit(project, {"models/model.bin": "w2"}, "model 2", branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    code, out = _impact(project, bml, u2)
    assert code == 1 and out["held"] is True
    v2 = _by_tag(out)["acme-v2"]
    assert (v2["trained"], v2["in_data"], v2["training"]) == (0, 20, "splits")
    assert "acme-v1" not in _by_tag(out)  # tagged before upload 2: it holds none of them
    text = bml("impact", "--from", u2, cwd=project)
    assert text.code == 1
    assert "  release acme-v2 (newest) trained on 0 rows of them, its data holds 20" in text.out
    assert "A release holds these rows: remove them downstream" in text.out
    # lineage keeps the training selection, and says the record is not this release's data
    r = bml("lineage", "models/model.bin", "--rev", "acme-v2", "--rows", "--json",
            cwd=project)
    [warning] = json.loads(r.out)["rows"]["warnings"]
    assert "its data changed since" in warning
    r = bml("lineage", "models/model.bin", "--rev", "acme-v2", "--rows", cwd=project)
    assert r.code == 0 and "branchml: warning: a training split record reads data" in r.err
    # the twin: acme-v1's own record is its data; upload 1 is found as it was
    code, out = _impact(project, bml, u1)
    v1 = _by_tag(out)["acme-v1"]
    held = sum(1 for row in trained if int(row.split(",")[0]) < 20)
    assert code == 1 and (v1["trained"], v1["rows"], v1["in_data"]) == (held, held, 20)
    r = bml("lineage", "models/model.bin", "--rev", "acme-v1", "--rows", "--json",
            cwd=project)
    assert json.loads(r.out)["rows"]["warnings"] == []


def test_a_split_record_off_the_first_parent_line_is_warned_by_lineage(
        project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A stable pusher's record naming a commit off the release's first-parent history (the
    split branch's tip, which stable/model merged as a second parent): lineage --rows keeps
    the selection and warns; impact still counts the release's data."""
    u1, _ = _first(project, bml, tmp_path)
    tip = git("rev-parse", "split", cwd=project)
    path = project / "tracking/splits.jsonl"
    record = json.loads(path.read_text().splitlines()[0])
    assert record["data_commit"] != tip
    path.write_text(json.dumps({**record, "data_commit": tip}) + "\n")
    commit(project, {"models/model.bin": "w2", "tracking/splits.jsonl": path.read_text()})
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    r = bml("lineage", "models/model.bin", "--rev", "acme-v2", "--rows", cwd=project)
    assert r.code == 0, r.err
    assert (f"a training split record reads data commit {tip[:10]}, which is not on "
            in r.err and "first-parent history" in r.err)
    code, out = _impact(project, bml, u1)
    assert code == 1 and _by_tag(out)["acme-v2"]["in_data"] == 20


def test_a_record_naming_no_commit_is_refused_by_tag_and_cannot_stop_impact(
        project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Finding 03: one appended record whose data_commit names nothing. `tag` refuses it
    (tags.leakage: refuse); with warn it is tagged with a warning, and `impact` lists that
    release as `training: unreadable`, judged by its data, and answers for the others."""
    u1, trained = _first(project, bml, tmp_path)
    path = project / "tracking/splits.jsonl"
    record = json.loads(path.read_text().splitlines()[0])
    path.write_text(path.read_text() + json.dumps({**record, "data_commit": BOGUS}) + "\n")
    commit(project, {"models/model.bin": "w2", "tracking/splits.jsonl": path.read_text()})
    r = bml("tag", "--client", "acme", cwd=project)
    assert r.code == 1
    assert (f"a split record names data commit {BOGUS[:10]}, which is not a commit in this "
            "repository") in r.err and r.err.count("\n") == 1
    assert git("tag", "--list", "acme-v2", cwd=project) == ""  # nothing tagged
    config = git("show", "main:branchml.yaml", cwd=project).replace(
        '  format: "{client}-v{n}"', '  format: "{client}-v{n}"\n  leakage: warn')
    assert "leakage: warn" in config
    commit(project, {"branchml.yaml": config + "\n"}, "warn", branch="main")
    git("checkout", "-q", "stable/model", cwd=project)
    r = bml("tag", "--client", "acme", cwd=project)
    assert r.code == 0, r.err
    assert "which is not a commit in this repository" in r.err  # warned
    code, out = _impact(project, bml, u1)
    assert code == 1
    v1, v2 = _by_tag(out)["acme-v1"], _by_tag(out)["acme-v2"]
    assert v1["trained"] == sum(1 for row in trained if int(row.split(",")[0]) < 20)
    assert (v2["training"], v2["trained"], v2["in_data"]) == ("unreadable", None, 20)
    assert f"data commit {BOGUS[:10]} is not here" in v2["training_error"]
    text = bml("impact", "--from", u1, cwd=project).out
    assert "  release acme-v2 (newest) holds 20 rows of them in its data (training: " \
        "unreadable, the split request's data commit" in text
    # an upload no release holds: exit 0, the unreadable release still listed with its reason
    u3 = commit(project, {"data/e.csv": "id,x\n100,1\n"}, "upload 3", branch="raw")
    code, out = _impact(project, bml, u3)
    assert code == 0 and out["held"] is False and out["found_anywhere"] == 1
    assert [(x["tag"], x["training"], x["in_data"]) for x in out["releases"]] == [
        ("acme-v2", "unreadable", 0)]


def _stable_release(repo: Path, bml, file: str) -> None:  # type: ignore[no-untyped-def]
    """Code promoted; `file` holding the upload's bytes on stable/model; a model; tagged."""
    if not (repo / "src/t.py").exists():
        commit(repo, {"src/t.py": "print(1)\n"}, branch="dev/model")
        assert bml("promote", "dev/model", "stable/model", cwd=repo).code == 0
    commit(repo, {file: "x,y\n1,2\n3,4\n", "models/model.bin": file}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=repo).code == 0


def test_impact_names_the_files_it_could_not_read(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """Finding 13: the release holds the rows in data/s.parquet, a file of no row format.
    No all-clear: the file is named, and the verdict is about the files read."""
    u = commit(project, {"data/d.csv": "x,y\n1,2\n3,4\n"}, "upload", branch="raw")
    _stable_release(project, bml, "data/s.parquet")
    code, out = _impact(project, bml, u)
    assert code == 0 and out["not_read"] == ["data/s.parquet"]
    [v1] = out["releases"]
    assert (v1["tag"], v1["in_data"], v1["not_rows"]) == ("acme-v1", 0, ["data/s.parquet"])
    stable = {x["branch"]: x for x in out["branches"]}["stable/model"]
    assert (stable["rows"], stable["not_rows"]) == (0, ["data/s.parquet"])
    text = bml("impact", "--from", u, cwd=project).out
    assert ("1 file was not read by rows (data/s.parquet): rows in them are not counted."
            in text)
    assert text.splitlines()[-1] == "No release holds these rows in the files read."
    assert ("  release acme-v1 (newest) holds none of them in the files read; not read by "
            "rows: data/s.parquet\n") in text
    assert "branch stable/model holds" not in text
    # the twin: the same bytes as CSV are found, exit 1
    _stable_release(project, bml, "data/s.csv")
    code, out = _impact(project, bml, u)
    assert code == 1 and _by_tag(out)["acme-v2"]["in_data"] == 2
