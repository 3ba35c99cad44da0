"""`branchml pull` / `merge` and the git merge drivers, on real repositories."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import commit, copied_fixtures, git, git_proc, snapshot

project = copied_fixtures()


def lfs_content(repo: Path, rev: str, path: str) -> bytes:
    """A file's content at `rev`, through git-lfs when it is stored there."""
    blob = git("cat-file", "-p", f"{rev}:{path}", cwd=repo)
    if blob.startswith("version https://git-lfs"):
        oid = blob.split("sha256:")[1].split()[0]
        return (repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid).read_bytes()
    return git_proc("cat-file", "-p", f"{rev}:{path}", cwd=repo).stdout.encode()


def appended_on_both(repo: Path) -> None:
    commit(repo, {"data/x.csv": "id,v\n1,a\n"}, branch="raw")
    git("checkout", "-q", "clean", cwd=repo)
    git("merge", "-q", "--no-edit", "--no-verify", "raw", cwd=repo)
    commit(repo, {"data/x.csv": "id,v\n1,a\n2,clean\n"})
    commit(repo, {"data/x.csv": "id,v\n1,a\n3,raw\n2,clean\n", "data/new.csv": "k\n9\n"},
           branch="raw")
    git("checkout", "-q", "clean", cwd=repo)


@pytest.mark.parametrize("fixture", ["project", "plain_project"])
def test_pull_appends_rows_and_files(fixture: str, request: pytest.FixtureRequest, bml) -> None:  # type: ignore[no-untyped-def]
    repo = request.getfixturevalue(fixture)
    appended_on_both(repo)
    raw_before = git("rev-parse", "raw", cwd=repo)
    r = bml("pull", "raw", "clean", "--json", cwd=repo)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["added"] == ["data/new.csv"] and out["appended"] == {"data/x.csv": 1}
    assert lfs_content(repo, "clean", "data/x.csv") == b"id,v\n1,a\n2,clean\n3,raw\n"
    assert (repo / "data" / "x.csv").read_bytes() == b"id,v\n1,a\n2,clean\n3,raw\n"
    assert git("status", "--porcelain", cwd=repo) == ""
    assert git("rev-parse", "raw", cwd=repo) == raw_before  # raw never changes
    msg = git("log", "-1", "--format=%B", "clean", cwd=repo)
    assert f"Pulled-From: raw {raw_before}" in msg and "Branchml-Strategy: data=append" in msg
    assert git("rev-parse", "clean^2", cwd=repo) == raw_before
    git("fsck", "--strict", cwd=repo)
    if fixture == "project":  # each LFS object's content hashes to its name (the pointer's oid)
        assert "Git LFS fsck OK" in git("lfs", "fsck", "--objects", cwd=repo)
    r = bml("pull", "raw", "clean", cwd=repo)
    assert r.out == "Nothing to pull: clean already has everything raw adds.\n"


@pytest.mark.parametrize("c_hashes", ["1", "0"])
def test_append_of_lfs_rows_imports_no_numpy_with_the_c_hashes(project: Path,
                                                                c_hashes: str) -> None:
    """NumPy's import was a sixth of an append merge's time: with the C row hashes built, the
    usual append (base a prefix of both sides) never imports it; without them, the same
    result through NumPy."""
    appended_on_both(project)
    code = ("import sys; from branchml.cli.main import main; code = main(['pull', 'raw', 'clean']); "
            "print(code, 'numpy' in sys.modules)")
    env = {**os.environ, "BRANCHML_NATIVE": c_hashes}
    r = subprocess.run([sys.executable, "-c", code], cwd=project, env=env,
                       capture_output=True, text=True, check=True)
    assert r.stdout.split()[-2:] == ["0", "False" if c_hashes == "1" else "True"], r.stderr
    assert lfs_content(project, "clean", "data/x.csv") == b"id,v\n1,a\n2,clean\n3,raw\n"


def test_dry_run_writes_nothing(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    appended_on_both(plain_project)
    before = snapshot(plain_project)
    r = bml("pull", "raw", "clean", "--dry-run", cwd=plain_project)
    assert r.code == 0
    assert r.out.splitlines() == ["Would pull raw into clean:", "  + data/new.csv (new file)",
                                  "  + data/x.csv: 1 row(s) appended (CSV)",
                                  "Appended 1 row(s) to 1 CSV file(s).",
                                  "Strategies: data=append"]
    assert snapshot(plain_project) == before


def test_pull_into_branch_not_checked_out(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    appended_on_both(plain_project)
    git("checkout", "-q", "main", cwd=plain_project)
    assert bml("pull", "raw", "clean", cwd=plain_project).code == 0
    assert git("status", "--porcelain", cwd=plain_project) == ""
    assert git("show", "clean:data/x.csv", cwd=plain_project) == "id,v\n1,a\n2,clean\n3,raw"


def test_header_mismatch_changes_nothing(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(plain_project, {"data/x.csv": "id,v\n1,a\n"}, branch="raw")
    commit(plain_project, {"data/x.csv": "id,v,w\n1,a,b\n"}, branch="clean")
    before = snapshot(plain_project)
    r = bml("pull", "raw", "clean", cwd=plain_project)
    assert r.code == 3
    assert r.err == ("branchml: error: the merge conflicts in 1 path(s), nothing was changed: "
                     "data/x.csv: the header differs between ours (id,v,w) and theirs (id,v); "
                     "make the columns equal on both branches (or allow new columns with "
                     "`widen_columns: true`), then merge again.\n")
    assert snapshot(plain_project) == before


def test_malformed_row_is_usage_error(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(plain_project, {"data/x.csv": "id,v\n1,a\n"}, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    git("merge", "-q", "--no-verify", "raw", cwd=plain_project)
    commit(plain_project, {"data/x.csv": "id,v\n1,a\n2,b\n"})
    commit(plain_project, {"data/x.csv": "id,v\n1,a\n3,b,c\n"}, branch="raw")
    before = snapshot(plain_project)
    r = bml("pull", "raw", "clean", cwd=plain_project)
    assert r.code == 2 and "a new row of theirs has 3 fields where the header has 2" in r.err
    assert snapshot(plain_project) == before


def test_code_conflict_lists_paths(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    base = commit(plain_project, {"src/a.py": "x = 1\n", "src/b.py": "y = 1\n"},
                  branch="dev/model")
    git("checkout", "-q", "-b", "dev/other", base, cwd=plain_project)
    commit(plain_project, {"src/a.py": "x = 2\n", "src/b.py": "y = 2\n"})
    commit(plain_project, {"src/a.py": "x = 3\n", "src/b.py": "y = 3\n"}, branch="dev/model")
    before = snapshot(plain_project)
    r = bml("merge", "dev/other", cwd=plain_project)
    assert r.code == 3
    assert r.err == ("branchml: error: the merge conflicts in 2 path(s), nothing was changed: "
                     "src/a.py: both sides changed the same lines; src/b.py: both sides changed "
                     "the same lines\n")
    assert snapshot(plain_project) == before


def test_clean_code_merge_and_overwrite(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    base = commit(plain_project, {"src/a.py": "a = 1\n\n\n\nb = 1\n", "data/d.csv": "k\n1\n"},
                  branch="dev/model")
    git("checkout", "-q", "-b", "dev/other", base, cwd=plain_project)
    commit(plain_project, {"src/a.py": "a = 2\n\n\n\nb = 1\n", "data/d.csv": "k\n1\n2\n"})
    commit(plain_project, {"src/a.py": "a = 1\n\n\n\nb = 2\n"}, branch="dev/model")
    r = bml("merge", "dev/other", "--json", cwd=plain_project)
    assert r.code == 0, r.err
    assert json.loads(r.out)["merged"] == ["src/a.py"]
    assert (plain_project / "src/a.py").read_text() == "a = 2\n\n\n\nb = 2\n"
    assert (plain_project / "data/d.csv").read_text() == "k\n1\n2\n"


def test_merge_into_a_type_that_refuses_the_class(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(plain_project, {"src/a.py": "x\n"}, branch="dev/model")
    before = snapshot(plain_project)
    r = bml("merge", "dev/model", "--into", "raw", cwd=plain_project)
    assert r.code == 1
    assert r.err == ("branchml: error: the result would break the rules of raw, nothing was "
                     "changed: code does not belong on raw (a data branch changes only data, "
                     "docs, config): commit src/a.py on a dev/* branch instead\n")
    assert snapshot(plain_project) == before


def test_dirty_destination(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    appended_on_both(plain_project)
    (plain_project / "data" / "x.csv").write_text("dirty\n")
    before = snapshot(plain_project)
    r = bml("pull", "raw", "clean", cwd=plain_project)
    assert (r.code, r.err) == (4, "branchml: error: clean is checked out with uncommitted "
                                  "changes: commit or stash them, then run the command again.\n")
    assert snapshot(plain_project) == before


@pytest.mark.parametrize(("args", "message"), [
    (["pull", "nope", "clean"], "SRC 'nope' is not a branch here; see `git branch` (or fetch it)."),
    (["pull", "raw", "nope"], "DST 'nope' is not a branch here; see `git branch` (or fetch it)."),
    (["merge", "raw", "--into", "-x"], "'-x' is not a valid branch name: it starts with '-'."),
])
def test_unknown_branches(plain_project: Path, bml, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    r = bml(*args, cwd=plain_project)
    assert (r.code, r.err) == (2, f"branchml: error: {message}\n")


def test_missing_lfs_object(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    appended_on_both(project)
    git("checkout", "-q", "main", cwd=project)
    shutil.rmtree(project / ".git" / "lfs" / "objects")
    before = snapshot(project)
    r = bml("pull", "raw", "clean", cwd=project)
    assert r.code == 4
    assert "is not in the local store and could not be fetched" in r.err
    assert snapshot(project) == before


class TestValidate:
    CONFIG_EXTRA = (
        "validate:\n"
        "  - glob: \"data/**/*.csv\"\n"
        "    schema: {type: object, required: [id], properties: {id: {type: integer}}}\n"
        "  - glob: \"data/**/*.txt\"\n"
        "    command: [\"grep\", \"-q\", \"ok\"]\n"
    )

    def test_drops_bad_items_and_commits_report(self, plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
        cfg = (plain_project / "branchml.yaml").read_text().replace("validate: []\n", "")
        commit(plain_project, {"branchml.yaml": cfg + self.CONFIG_EXTRA}, branch="main")
        commit(plain_project, {"data/x.csv": "id,v\n1,a\n"}, branch="raw")
        git("checkout", "-q", "clean", cwd=plain_project)
        git("merge", "-q", "--no-verify", "raw", cwd=plain_project)
        commit(plain_project, {
            "data/x.csv": "id,v\n1,a\n2,b\nnot-a-number,c\n",   # one appended row fails
            "data/empty.csv": "",                                # empty: dropped
            "data/ragged.csv": "id,v\n1,a,extra\n",              # does not parse: dropped
            "data/mixed.csv": "id,v\n5,a\nx,b\n",                # new file, one bad row
            "data/note.txt": "fine\n",                           # command fails: dropped
            "data/good.txt": "ok\n",
        }, branch="raw")
        raw = git("rev-parse", "raw", cwd=plain_project)
        git("checkout", "-q", "clean", cwd=plain_project)
        r = bml("pull", "raw", "clean", "--validate", "--json", cwd=plain_project)
        assert r.code == 0, r.err
        out = json.loads(r.out)
        assert sorted(out["added"]) == ["data/good.txt", "data/mixed.csv"]
        assert out["dropped"] == {
            "data/empty.csv": "empty file",
            "data/ragged.csv": "every row was dropped (1)",
            "data/note.txt": "`grep -q ok` exited 1",
            "data/mixed.csv": "1 row(s) dropped",
        }
        assert (plain_project / "data/x.csv").read_text() == "id,v\n1,a\n2,b\n"
        assert (plain_project / "data/mixed.csv").read_text() == "id,v\n5,a\n"
        report = json.loads((plain_project / f"data/_validation/pull-{raw[:10]}.json").read_text())
        assert report["dropped"]["data/x.csv"] == "1 new row(s) dropped"
        assert report["rows"]["data/ragged.csv"] == [
            {"row": 2, "reason": "3 fields, the header has 2", "text": "1,a,extra"}]
        assert git("rev-parse", "raw", cwd=plain_project) == raw


class TestDrivers:
    """Door 2: a plain `git merge` runs the same strategies through the merge merge_driver."""

    @pytest.mark.parametrize("fixture", ["project", "plain_project"])
    def test_git_merge_equals_branchml_merge(self, fixture: str, request: pytest.FixtureRequest,  # type: ignore[no-untyped-def]
                                             bml, tmp_path: Path) -> None:
        repo = request.getfixturevalue(fixture)
        if fixture == "plain_project":
            assert bml("install", "--no-lfs", cwd=repo).code == 0
        appended_on_both(repo)
        commit(repo, {"data/x.csv": "id,v\n1,a\n3,raw\n4,\"multi\nline\"\n2,clean\n"},
               branch="raw")
        git("checkout", "-q", "clean", cwd=repo)
        clone = tmp_path / "door2"
        git("clone", "-q", "--no-local", str(repo), str(clone), cwd=tmp_path)
        bml("install", *([] if fixture == "project" else ["--no-lfs"]), cwd=clone)
        if fixture == "project":
            shutil.copytree(repo / ".git" / "lfs", clone / ".git" / "lfs", dirs_exist_ok=True)
        git("checkout", "-q", "clean", cwd=clone)
        git("branch", "-f", "raw", "origin/raw", cwd=clone)
        p = git_proc("merge", "--no-edit", "--no-verify", "raw", cwd=clone)
        assert p.returncode == 0, p.stdout + p.stderr
        assert bml("pull", "raw", "clean", cwd=repo).code == 0
        door1 = git("rev-parse", "clean^{tree}", cwd=repo)
        door2 = git("rev-parse", "HEAD^{tree}", cwd=clone)
        assert door1 == door2
        expected = b'id,v\n1,a\n2,clean\n3,raw\n4,"multi\nline"\n'
        assert lfs_content(repo, "clean", "data/x.csv") == expected
        assert (clone / "data" / "x.csv").read_bytes() == expected

    def test_driver_conflict_is_recorded_by_git(self, project: Path) -> None:
        commit(project, {"data/x.csv": "id,v\n1,a\n"}, branch="raw")
        commit(project, {"data/x.csv": "id,w\n1,a\n"}, branch="clean")
        p = git_proc("merge", "--no-edit", "--no-verify", "raw", cwd=project)
        assert p.returncode != 0
        assert "branchml merge-driver: data/x.csv: the header differs" in p.stderr
        assert "CONFLICT" in p.stdout


def test_validation_report_is_lfs_in_an_lfs_repo(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(project, {"data/x.csv": "id\n1\n"}, branch="raw")
    git("checkout", "-q", "clean", cwd=project)
    r = bml("pull", "raw", "clean", "--validate", cwd=project)
    assert r.code == 0, r.err
    assert git("status", "--porcelain", cwd=project) == ""
    assert "data/_validation/pull-" in git("lfs", "ls-files", cwd=project)


def sqlite_db(tmp: Path, rows: list[tuple[int, str]], schema: str = "id INTEGER PRIMARY KEY, v TEXT") -> bytes:
    import sqlite3

    path = tmp / f"db{len(list(tmp.iterdir()))}.sqlite"
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE t ({schema})")
    con.executemany("INSERT INTO t VALUES (?, ?)", rows)
    con.commit()
    con.close()
    return path.read_bytes()


def sqlite_rows(repo: Path, tmp: Path) -> list[tuple[int, str]]:
    import sqlite3

    (tmp / "read.sqlite").write_bytes((repo / "data" / "t.sqlite").read_bytes())
    con = sqlite3.connect(tmp / "read.sqlite")
    rows = con.execute("SELECT * FROM t ORDER BY id").fetchall()
    con.close()
    return rows


def sqlite_history(repo: Path, tmp: Path, clean: list[tuple[int, str]],
                   raw: list[tuple[int, str]], clean_schema: str | None = None) -> None:
    """raw and clean both start from [(1, 'a')]; then each side writes its own rows."""
    dbs = tmp / "dbs"
    dbs.mkdir()
    commit(repo, {"data/t.sqlite": sqlite_db(dbs, [(1, "a")])}, branch="raw")
    git("checkout", "-q", "clean", cwd=repo)
    git("merge", "-q", "--no-verify", "raw", cwd=repo)
    schema = {"schema": clean_schema} if clean_schema else {}
    commit(repo, {"data/t.sqlite": sqlite_db(dbs, clean, **schema)})
    commit(repo, {"data/t.sqlite": sqlite_db(dbs, raw)}, branch="raw")
    git("checkout", "-q", "clean", cwd=repo)


def test_sqlite_tables_appended(plain_project: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    sqlite_history(plain_project, tmp_path, [(1, "a"), (2, "clean")], [(1, "a"), (3, "raw")])
    r = bml("pull", "raw", "clean", cwd=plain_project)
    assert r.code == 0, r.err
    assert sqlite_rows(plain_project, tmp_path) == [(1, "a"), (2, "clean"), (3, "raw")]


def test_sqlite_schema_mismatch(plain_project: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    sqlite_history(plain_project, tmp_path, [(1, "a")], [(1, "a"), (3, "raw")],
                   "id INTEGER PRIMARY KEY, w TEXT")
    before = snapshot(plain_project)
    r = bml("pull", "raw", "clean", cwd=plain_project)
    assert r.code == 3 and "the tables or their schemas differ" in r.err
    assert snapshot(plain_project) == before


def test_sqlite_key_clash(plain_project: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    sqlite_history(plain_project, tmp_path, [(1, "a"), (2, "clean")], [(1, "a"), (2, "raw")])
    r = bml("pull", "raw", "clean", cwd=plain_project)
    assert r.code == 3 and "clashes with a row of ours on a key" in r.err


def test_widen_columns_when_allowed(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    cfg = (plain_project / "branchml.yaml").read_text().replace("widen_columns: false",
                                                                "widen_columns: true")
    commit(plain_project, {"branchml.yaml": cfg}, branch="main")
    commit(plain_project, {"data/x.csv": "id,v\n1,a\n"}, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    git("merge", "-q", "--no-verify", "raw", cwd=plain_project)
    commit(plain_project, {"data/x.csv": "id,v\n1,a\n2,b\n"})
    commit(plain_project, {"data/x.csv": "id,v,w\n1,a,old\n3,c,new\n"}, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    r = bml("pull", "raw", "clean", cwd=plain_project)
    assert r.code == 0, r.err
    assert (plain_project / "data/x.csv").read_text() == "id,v,w\n1,a,\n2,b,\n3,c,new\n"


def test_overwrite_theirs_wins_both_doors(project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """models/: theirs' whole file wins, through `branchml merge` and through `git merge`."""
    git("checkout", "-q", "-b", "stable/a", "stable/model", cwd=project)
    git("checkout", "-q", "-b", "stable/b", "stable/model", cwd=project)
    base = commit(project, {"models/m.bin": b"\x00base"}, branch="stable/a")
    git("branch", "-f", "stable/b", base, cwd=project)
    commit(project, {"models/m.bin": b"\x01ours-weights"}, branch="stable/a")
    commit(project, {"models/m.bin": b"\x02theirs-weights"}, branch="stable/b")
    clone = tmp_path / "door2"
    git("clone", "-q", "--no-local", str(project), str(clone), cwd=tmp_path)
    bml("install", cwd=clone)
    shutil.copytree(project / ".git" / "lfs", clone / ".git" / "lfs", dirs_exist_ok=True)
    git("checkout", "-q", "stable/a", cwd=clone)
    git("branch", "-f", "stable/b", "origin/stable/b", cwd=clone)
    p = git_proc("merge", "--no-edit", "--no-verify", "stable/b", cwd=clone)
    assert p.returncode == 0, p.stdout + p.stderr
    git("checkout", "-q", "stable/a", cwd=project)
    r = bml("merge", "stable/b", "--json", cwd=project)
    assert r.code == 0, r.err
    assert json.loads(r.out)["taken"] == ["models/m.bin"]
    assert (project / "models/m.bin").read_bytes() == b"\x02theirs-weights"
    assert (clone / "models/m.bin").read_bytes() == b"\x02theirs-weights"
    assert git("rev-parse", "HEAD^{tree}", cwd=project) == git("rev-parse", "HEAD^{tree}", cwd=clone)


@pytest.mark.parametrize("strategy", ["overwrite", "append"])
def test_driver_unit(tmp_path: Path, strategy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from branchml.ops.merge_driver import run as run_driver

    repo = tmp_path / "r"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    monkeypatch.chdir(repo)
    files = {n: repo / n for n in ("O", "A", "B")}
    files["O"].write_bytes(b"h\n1\n")
    files["A"].write_bytes(b"h\n1\n2\n")
    files["B"].write_bytes(b"h\n1\n3\n")
    assert run_driver(strategy, str(files["O"]), str(files["A"]), str(files["B"]), "d/x.csv") == 0
    assert files["A"].read_bytes() == (b"h\n1\n3\n" if strategy == "overwrite" else b"h\n1\n2\n3\n")


def test_parquet_append_both_doors(project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")

    def parquet(ids: list[int]) -> bytes:
        import io

        out = io.BytesIO()
        pq.write_table(pa.table({"id": ids, "v": [f"v{i}" for i in ids]}), out)
        return out.getvalue()

    commit(project, {"data/t.parquet": parquet([1, 2])}, branch="raw")
    git("checkout", "-q", "clean", cwd=project)
    git("merge", "-q", "--no-verify", "raw", cwd=project)
    commit(project, {"data/t.parquet": parquet([1, 2, 3])})
    commit(project, {"data/t.parquet": parquet([1, 2, 4, 3])}, branch="raw")
    git("checkout", "-q", "clean", cwd=project)
    clone = tmp_path / "door2"
    git("clone", "-q", "--no-local", str(project), str(clone), cwd=tmp_path)
    bml("install", cwd=clone)
    shutil.copytree(project / ".git" / "lfs", clone / ".git" / "lfs", dirs_exist_ok=True)
    git("checkout", "-q", "clean", cwd=clone)
    git("branch", "-f", "raw", "origin/raw", cwd=clone)
    assert git_proc("merge", "--no-edit", "--no-verify", "raw", cwd=clone).returncode == 0
    r = bml("pull", "raw", "clean", cwd=project)
    assert r.code == 0, r.err
    assert pq.read_table(project / "data/t.parquet").column("id").to_pylist() == [1, 2, 3, 4]
    assert git("rev-parse", "clean^{tree}", cwd=project) == git("rev-parse", "HEAD^{tree}",
                                                                 cwd=clone)


@pytest.mark.parametrize("level", [None, "0", "9"])
def test_big_plain_blobs_both_doors(plain_project: Path, bml, tmp_path: Path,  # type: ignore[no-untyped-def]
                                    level: str | None) -> None:
    """A plain blob too big to hold as bytes: sides inflated by git beside the merge, the
    result written as a loose object by branchml itself (at core.looseCompression), read
    by git the same as the merge driver's result."""
    repo = plain_project
    assert bml("install", "--no-lfs", cwd=repo).code == 0
    if level is not None:
        git("config", "core.looseCompression", level, cwd=repo)
    base = "id,v\n" + "".join(f"{i},b{i % 13}\n" for i in range(60_000))
    commit(repo, {"data/big.csv": base}, branch="raw")
    git("checkout", "-q", "clean", cwd=repo)
    git("merge", "-q", "--no-edit", "--no-verify", "raw", cwd=repo)
    commit(repo, {"data/big.csv": base + "".join(f"{i},c\n" for i in range(7_000))})
    commit(repo, {"data/big.csv": base + "".join(f"{i},r\n" for i in range(3_000, 9_000))},
           branch="raw")
    git("checkout", "-q", "clean", cwd=repo)
    clone = tmp_path / "door2"
    git("clone", "-q", "--no-local", str(repo), str(clone), cwd=tmp_path)
    bml("install", "--no-lfs", cwd=clone)
    git("checkout", "-q", "clean", cwd=clone)
    git("branch", "-f", "raw", "origin/raw", cwd=clone)
    assert git_proc("merge", "--no-edit", "--no-verify", "raw", cwd=clone).returncode == 0
    git("checkout", "-q", "main", cwd=repo)
    r = bml("pull", "raw", "clean", "--json", cwd=repo)
    assert r.code == 0, r.err
    assert json.loads(r.out)["appended"] == {"data/big.csv": 6_000}
    assert git("rev-parse", "clean^{tree}", cwd=repo) == git("rev-parse", "HEAD^{tree}", cwd=clone)
    git("fsck", "--strict", "--no-dangling", cwd=repo)
    objects = repo / ".git" / "objects"
    assert not list(objects.rglob("tmp_obj_*"))
    assert not list((repo / ".git" / "branchml" / "tmp").glob("*"))
    blob = git("rev-parse", "clean:data/big.csv", cwd=repo)
    stored = (objects / blob[:2] / blob[2:]).stat().st_size
    size = int(git("cat-file", "-s", blob, cwd=repo))
    assert (stored > size) if level == "0" else (stored < size / 2)
