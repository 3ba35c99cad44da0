"""Row lineage (issue 21): `lineage --rows` counts a release's training rows per raw upload,
`impact` finds what holds an upload's (or a file's) rows. Real git, real git-lfs."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, commit, copied_fixtures, git

project = copied_fixtures()


UP1 = "".join(f"{i},{i * 2}\n" for i in range(20))
UP2 = "".join(f"{i},{i * 2}\n" for i in range(20, 40))


def _json(r) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert r.code in (0, 1), r.err
    return json.loads(r.out)  # type: ignore[no-any-return]


def _uploads(repo: Path) -> tuple[str, str]:
    """Two uploads on raw: data/d.csv new (ids 0-19), then grown (ids 20-39)."""
    a = commit(repo, {"data/d.csv": "id,x\n" + UP1}, "upload 1", branch="raw")
    b = commit(repo, {"data/d.csv": "id,x\n" + UP1 + UP2}, "upload 2")
    return a, b


def _cleaned(repo: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """raw -> clean, where cleaning drops id 5 and rewrites id 25; -> split, split by id."""
    assert bml("pull", "raw", "clean", cwd=repo).code == 0
    rows = ("id,x\n" + UP1 + UP2).replace("5,10\n", "").replace("25,50\n", "25,51\n")
    commit(repo, {"data/d.csv": rows}, "clean", branch="clean")
    assert bml("pull", "clean", "split", cwd=repo).code == 0
    assert bml("split", "--key", "id", cwd=repo).code == 0


def _release(repo: Path, bml, tmp: Path) -> list[str]:  # type: ignore[no-untyped-def]
    """Code promoted, split pulled into stable/model, `split rows train`, a model, acme-v1.
    Returns the training rows `split rows` wrote."""
    commit(repo, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=repo).code == 0
    assert bml("pull", "split", "stable/model", cwd=repo).code == 0
    git("checkout", "-q", "stable/model", cwd=repo)
    r = bml("split", "rows", "train", "-o", str(tmp / "t.csv"), "--for", "train", cwd=repo)
    assert r.code == 0, r.err
    commit(repo, {"models/model.bin": "w1",
                  "tracking/splits.jsonl": (repo / "tracking/splits.jsonl").read_text()})
    assert bml("tag", "--client", "acme", cwd=repo).code == 0
    return (tmp / "t.csv").read_text().splitlines()[1:]


@pytest.fixture
def scenario(project: Path, bml, tmp_path: Path):  # type: ignore[no-untyped-def]
    a, b = _uploads(project)
    _cleaned(project, bml)
    trained = _release(project, bml, tmp_path)
    return project, a, b, trained


def _expected(trained: list[str]) -> tuple[int, int, int]:
    """(rows from upload 1, from upload 2, unmatched) of the rows written for training."""
    ids = [int(r.split(",")[0]) for r in trained]
    rewritten = sum(1 for r in trained if r == "25,51")
    return (sum(1 for i in ids if i < 20), sum(1 for i in ids if i >= 20) - rewritten,
            rewritten)


def test_lineage_rows_counts_each_upload_through_split_rows(scenario, bml) -> None:  # type: ignore[no-untyped-def]
    repo, a, b, trained = scenario
    one, two, unmatched = _expected(trained)
    r = _json(bml("lineage", "models/model.bin", "--rev", "acme-v1", "--rows", "--json",
                  cwd=repo))
    rows = r["rows"]
    assert rows["source"] == "splits"
    assert rows["total"] == len(trained)
    assert rows["unmatched"] == unmatched
    assert rows["matched"] == one + two
    got = [(u["commit"], u["file"], u["rows"], u["upload_rows"]) for u in rows["uploads"]]
    assert got == [(a, "data/d.csv", one, 20), (b, "data/d.csv", two, 20)]
    assert rows["uploads"][0]["author"] == "Test User"
    text = bml("lineage", "models/model.bin", "--rev", "acme-v1", "--rows", cwd=repo).out
    assert f"    {a[:10]} " in text and f"data/d.csv: {one} of the 20 rows it added" in text
    said = f"{unmatched} row{'' if unmatched == 1 else 's'} no raw upload holds (made or rewr"
    assert (f"    {said}" in text) == bool(unmatched)  # no line for 0
    head = _json(bml("lineage", "models/model.bin", "--rows", "--json", cwd=repo))  # a commit
    assert head["rows"] == rows


def test_impact_from_each_upload_lists_the_release(scenario, bml) -> None:  # type: ignore[no-untyped-def]
    repo, a, b, trained = scenario
    one, two, _ = _expected(trained)
    for upload, held in ((a, one), (b, two)):
        r = bml("impact", "--from", upload, "--json", cwd=repo)
        assert r.code == 1, r.err
        out = json.loads(r.out)
        assert out["rows"] == 20 and out["held"] is True
        assert [{k: x[k] for k in ("tag", "rows")} for x in out["releases"]] == [
            {"tag": "acme-v1", "rows": held}]  # beside the marks of test_row_lineage_fixes
        branches = {x["branch"]: x["rows"] for x in out["branches"]}
        assert branches["raw"] == 20 and branches["clean"] == 19
        splits = {x["split"]: x["rows"] for x in out["splits"]}
        assert sum(splits.values()) == 19 and splits.get("train", 0) == held
    text = bml("impact", "--from", a, cwd=repo)
    assert text.code == 1 and "  release acme-v1 (newest) trained on " in text.out


def test_impact_of_an_upload_no_release_holds_exits_0(scenario, bml) -> None:  # type: ignore[no-untyped-def]
    repo = scenario[0]
    late = commit(repo, {"data/late.csv": "id,x\n100,1\n101,2\n"}, "late upload", branch="raw")
    r = bml("impact", "--from", late, "--json", cwd=repo)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["held"] is False and out["releases"] == []
    assert out["branches"] == [{"branch": "raw", "commit": late, "rows": 2, "not_rows": []}]


def test_impact_rows_file(scenario, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, trained = scenario
    f = tmp_path / "withdraw.csv"
    f.write_text("id,x\n3,6\n25,50\n")
    r = bml("impact", "--rows", str(f), "--json", cwd=repo)
    out = json.loads(r.out)
    assert out["rows"] == 2
    in_train = sum(1 for row in trained if row == "3,6")
    assert r.code == (1 if in_train else 0)
    assert {x["branch"]: x["rows"] for x in out["branches"]}["raw"] == 2
    assert {x["branch"]: x["rows"] for x in out["branches"]}["clean"] == 1  # 25,50 rewritten


@pytest.mark.parametrize("args, said", [
    ((), "one of the two"),
    (("--from", "HEAD", "--rows", "x.csv"), "one of the two"),
    (("--from", "dev/model"), "is not a commit of the raw branch"),
])
def test_impact_refuses_with_one_sentence(project: Path, bml, args, said) -> None:  # type: ignore[no-untyped-def]
    _uploads(project)
    commit(project, {"src/a.py": "x = 1\n"}, "code", branch="dev/model")
    r = bml("impact", *args, cwd=project)
    assert r.code == 2 and said in r.err and "Traceback" not in r.err


def test_impact_refuses_a_commit_that_adds_no_rows_and_an_empty_file(
        project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _uploads(project)
    docs = commit(project, {"docs/raw.md": "about raw\n"}, "docs", branch="raw")
    r = bml("impact", "--from", docs, cwd=project)
    assert r.code == 2 and "adds no rows" in r.err
    empty = tmp_path / "empty.csv"
    empty.write_text("id,x\n")
    r = bml("impact", "--rows", str(empty), cwd=project)
    assert r.code == 2 and "holds no rows" in r.err
    r = bml("impact", "--rows", str(tmp_path / "missing.csv"), cwd=project)
    assert r.code == 2 and "cannot be read" in r.err


def test_data_folder_release_counts_every_row(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    a, b = _uploads(project)
    commit(project, {"data/notes.bin": b"\x00\x01"}, "a binary file", branch="raw")
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    assert bml("pull", "raw", "stable/model", cwd=project).code == 0
    commit(project, {"models/model.bin": "w1"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=project).code == 0
    rows = _json(bml("lineage", "models/model.bin", "--rev", "acme-v1", "--rows", "--json",
                     cwd=project))["rows"]
    assert rows["source"] == "data folders"
    assert (rows["total"], rows["matched"], rows["unmatched"]) == (40, 40, 0)
    assert [(u["commit"], u["rows"]) for u in rows["uploads"]] == [(a, 20), (b, 20)]
    assert rows["not_rows"] == ["data/notes.bin"]


def _native_off(args: list[str], cwd: Path) -> dict:  # type: ignore[type-arg]
    env = {**os.environ, "BRANCHML_NATIVE": "0"}
    done = subprocess.run([f"{BIN}/branchml", *args], cwd=cwd, capture_output=True,
                          text=True, env=env)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_native_and_numpy_paths_agree(scenario, bml) -> None:  # type: ignore[no-untyped-def]
    repo, a, _, _ = scenario
    args = ["lineage", "models/model.bin", "--rev", "acme-v1", "--rows", "--json"]
    assert _native_off(args, repo)["rows"] == _json(bml(*args, cwd=repo))["rows"]
    args = ["impact", "--from", a, "--json"]
    assert _native_off(args, repo) == _json(bml(*args, cwd=repo))


def test_the_csv_fast_path_of_split_keys_reads_as_the_csv_module() -> None:
    from branchml.core.rows import RowFormat
    from branchml.ops.splitrows import _keys

    records = [b"1,a,b", b'"2,x",y,z', b"3,,", b'4,"q""r",s', b" 5 ,t,u"]
    for fmt, sep in ((RowFormat.CSV, ","), (RowFormat.TSV, "\t")):
        rs = [r.replace(b",", sep.encode()) for r in records]
        header = sep.join(["id", "v", "w"]).encode()
        for key in ("id", "v", "w"):
            at = ["id", "v", "w"].index(key)
            want = [next(csv.reader(io.StringIO(r.decode()), delimiter=sep))[at] for r in rs]
            assert _keys("f", fmt, header, rs, key) == want
            plain = [r for r in rs if b'"' not in r]
            want = [next(csv.reader(io.StringIO(r.decode()), delimiter=sep))[at] for r in plain]
            assert _keys("f", fmt, header, plain, key) == want


def _lfs_store(repo: Path, data: bytes) -> str:
    """The pointer of `data`, its object written into the repository's LFS store."""
    oid = hashlib.sha256(data).hexdigest()
    obj = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(data)
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"


def _chain(repo: Path, versions: list[bytes]) -> list[str]:
    commits = []
    git("checkout", "-q", "raw", cwd=repo)
    for n, v in enumerate(versions):
        commits.append(commit(repo, {"data/g.csv": v}, f"version {n}"))
    assert git("lfs", "ls-files", cwd=repo).count("data/g.csv") == 1  # stored in LFS
    return commits


def _uploads_json(repo: Path, bml) -> dict[str, int]:  # type: ignore[no-untyped-def]
    commit(repo, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=repo).code == 0
    assert bml("pull", "raw", "stable/model", cwd=repo).code == 0
    commit(repo, {"models/model.bin": "w1"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=repo).code == 0
    rows = _json(bml("lineage", "models/model.bin", "--rev", "acme-v1", "--rows", "--json",
                     cwd=repo))["rows"]
    assert rows["unmatched"] == 0
    return {u["commit"]: u["rows"] for u in rows["uploads"]}


def test_an_lfs_growth_chain_of_five_versions_is_attributed_right(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    parts = [b"id,x\n" + b"".join(b"%d,%d\n" % (i, n) for i in range(n * 10, n * 10 + 3 + n))
             for n in range(5)]
    versions = [b"".join([parts[0]] + [p.split(b"\n", 1)[1] for p in parts[1:k + 1]])
                for k in range(5)]
    commits = _chain(project, versions)
    assert _uploads_json(project, bml) == {c: 3 + n for n, c in enumerate(commits)}


def test_a_non_prefix_rewrite_falls_back_and_stays_right(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    v1 = b"id,x\n1,1\n2,2\n3,3\n"
    v2 = b"id,x\n1,1\n2,2\n3,3\n4,4\n"  # grown: its twin
    v3 = b"id,x\n3,3\n1,1\n9,9\n4,4\n2,2\n"  # rewritten by hand: 9,9 is the only new row
    c1, c2, c3 = _chain(project, [v1, v2, v3])
    assert _uploads_json(project, bml) == {c1: 3, c2: 1, c3: 1}


def _forge(repo: Path, branch: str, entries: dict[str, tuple[str, str]],
           parents: list[str], base: str | None = None) -> str:
    """A commit made by hand on `branch` (no hook sees it): `base`'s tree (default: the
    first parent's) with `entries` (path -> (mode, blob)) put in, the parents in the order
    given."""
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "forge-index")}

    def run(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True,
                              text=True, input=stdin, check=True)
        return done.stdout.strip()

    run("read-tree", base or parents[0])
    for path, (mode, blob) in entries.items():
        run("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}")
    tree = run("write-tree")
    sha = run("commit-tree", tree, *[x for p in parents for x in ("-p", p)], "-m", "forged")
    run("update-ref", f"refs/heads/{branch}", sha)
    return sha


def _blob(repo: Path, data: bytes) -> str:
    done = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data,
                          capture_output=True, check=True)
    return done.stdout.decode().strip()


def test_an_lfs_growth_chain_is_read_in_one_pass(project: Path, bml,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from branchml.ops import uploadrows

    def per_version(*args: object) -> None:
        raise AssertionError("a prefix chain was read version by version")

    monkeypatch.setattr(uploadrows, "event_rows", per_version)
    commits = _chain(project, [b"id,x\n1,1\n", b"id,x\n1,1\n2,2\n", b"id,x\n1,1\n2,2\n3,3\n"])
    assert _uploads_json(project, bml) == {c: 1 for c in commits}


@pytest.mark.parametrize("swapped", [False, True])
def test_a_merge_on_raw_with_swapped_parents_attributes_each_side(
        project: Path, bml, swapped: bool) -> None:  # type: ignore[no-untyped-def]
    a, _ = _uploads(project)
    git("checkout", "-q", "-b", "side", a, cwd=project)
    side = commit(project, {"data/side.csv": "id,x\n50,1\n51,1\n"}, "side upload")
    tip = git("rev-parse", "raw", cwd=project)
    parents = [side, tip] if swapped else [tip, side]  # swapped: raw's own history second
    _forge(project, "raw", {"data/side.csv": ("100644", git("rev-parse", f"{side}:data/side.csv",
                                                           cwd=project))}, parents, tip)
    git("checkout", "-q", "raw", cwd=project)
    git("branch", "-D", "side", cwd=project)
    got = _uploads_json(project, bml)
    assert got[side] == 2 and got[a] == 20 and sum(got.values()) == 42


def test_a_pointer_to_a_missing_lfs_object_is_refused_in_one_sentence(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    _uploads(project)
    raw = git("rev-parse", "raw", cwd=project)
    present = _lfs_store(project, b"id,x\n70,1\n")  # its legitimate twin: the object is here
    _forge(project, "raw", {"data/here.csv": ("100644", _blob(project, present.encode()))}, [raw])
    ok = _json(bml("impact", "--rows", str(_file(project, "id,x\n70,1\n")), "--json",
                   cwd=project))
    assert {x["branch"]: x["rows"] for x in ok["branches"]}["raw"] == 1
    gone = present.replace(present.split("sha256:")[1][:64], "ab" * 32)
    _forge(project, "raw", {"data/gone.csv": ("100644", _blob(project, gone.encode()))},
           [git("rev-parse", "raw", cwd=project)])
    r = bml("impact", "--rows", str(_file(project, "id,x\n70,1\n")), cwd=project)
    assert r.code == 4, r.err
    assert "data/gone.csv" in r.err and "abababababab" in r.err and "Traceback" not in r.err
    assert r.err.count("\n") == 1


def _file(repo: Path, text: str) -> Path:
    f = repo.parent / "withdraw.csv"
    f.write_text(text)
    return f


def test_a_symlink_in_data_is_not_read(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    _, b = _uploads(project)
    target = _blob(project, b"/etc/passwd\n")
    _forge(project, "raw", {"data/passwd.txt": ("120000", target)}, [b])
    withdraw = project.parent / "w.txt"
    withdraw.write_text("/etc/passwd\n")  # the link's own bytes, were they read as rows
    out = _json(bml("impact", "--rows", str(withdraw), "--json", cwd=project))
    # the link is not read: named as a file not read as rows (issue 21 fl2), no row counted
    assert out["branches"] == [{"branch": "raw", "commit": git("rev-parse", "raw", cwd=project),
                                "rows": 0, "not_rows": ["data/passwd.txt"]}]
    assert out["held"] is False and out["found_anywhere"] == 0
    twin = _forge(project, "raw", {"data/plain.txt": ("100644", target)},
                  [git("rev-parse", "raw", cwd=project)])  # the same bytes in a regular file
    out = _json(bml("impact", "--rows", str(withdraw), "--json", cwd=project))
    assert out["branches"] == [{"branch": "raw", "commit": twin, "rows": 1,
                                "not_rows": ["data/passwd.txt"]}]


def test_the_log_is_read_token_by_token_whatever_the_paths_hold() -> None:
    from branchml.core.rowindex import parse_log

    z = "0" * 40
    odd = "data/\x01" + "f" * 40 + "\n:x.csv"  # a path that looks like a header and an entry
    raw = (f"\x01{'a' * 40}\0Ana\0ana@x\x002026-01-01T00:00:00+00:00\0\0\n"
           f":000000 100644 {z} {'b' * 40} A\0{odd}\0"
           f"\x01{'c' * 40}\0Bo\0bo@x\x002026-01-02T00:00:00+00:00\0\0\n"
           f":100644 100644 {'b' * 40} {'d' * 40} M\0data/d.csv\0").encode()
    got = list(parse_log(raw))
    assert [(c.sha[0], c.author, [(x.status, x.path) for x in c.changes]) for c in got] == \
        [("a", "Ana", [("A", odd)]), ("c", "Bo", [("M", "data/d.csv")])]


def test_added_rows_are_a_multiset_difference_and_the_index_keeps_the_earliest() -> None:
    import numpy as np

    from branchml.core.rowindex import Tally, added, build_index

    new, old = np.array([5, 3, 3, 9, 3], dtype=np.int64), np.array([3, 5], dtype=np.int64)
    assert sorted(added(new, old).tolist()) == [3, 3, 9]
    index = build_index([(1, np.array([7, 9], dtype=np.int64)),
                         (0, np.array([9, 4], dtype=np.int64))])
    assert index.hashes.tolist() == [4, 7, 9]
    assert index.earliest.tolist() == [0, 1, 0] and index.shared.tolist() == [False, False, True]
    t = Tally(index, np.zeros(2, dtype=np.int64))
    t.add(np.array([9, 9, 7], dtype=np.int64))
    t.add(np.array([1], dtype=np.int64))
    t.finish()
    assert (t.per_upload.tolist(), t.total, t.unmatched, t.duplicates) == ([2, 1], 4, 1, 2)


def test_lineage_text_lists_the_first_50_uploads(capsys: pytest.CaptureFixture[str]) -> None:
    from branchml.cli.impact import rows_text

    ups = [{"commit": f"{i:040x}", "date": "2026-11-30T00:00:00+00:00", "author": "Ana",
            "file": "data/d.csv", "rows": 1, "upload_rows": 2} for i in range(53)]
    rows_text({"total": 60, "matched": 53, "unmatched": 7, "duplicates": 0, "source": "splits",
               "uploads": ups, "not_rows": [], "raw": "raw"})
    text = capsys.readouterr().out
    assert text.count("data/d.csv: 1 of the 2 rows it added") == 50
    assert "    ... and 3 more (--json lists all)\n" in text
    assert "    7 rows no raw upload holds (made or rewritten by cleaning)\n" in text
