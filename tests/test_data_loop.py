"""Issue 18, data: split reuses its recorded options, empty keys, one reading of rows, the
validation report, merge/pull summaries. Real git, real branchml commands through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from branchml.core.split import bucket
from tests.conftest import commit, copied_fixtures, git, git_proc, snapshot

project, installed_server = copied_fixtures(server=True)


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
        "and new items must be assigned alike, but --seed 8 (recorded 7) differs: leave it out "
        "to reuse the recorded values.\n"))
    r = bml("split", "--ratios", "0.6,0.4", "--key", "id", cwd=plain_project)
    assert r.code == 2
    assert "--ratios 0.6,0.4 (recorded 0.8,0.1,0.1); --key id (recorded cust) differ" in r.err
    assert snapshot(plain_project) == before


def test_split_by_files_refuses_a_key_later(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    on_split(plain_project, {"data/a.txt": "a\n"})
    assert bml("split", cwd=plain_project).code == 0
    r = bml("split", "--key", "id", cwd=plain_project)
    assert r.code == 2
    assert "--key id (recorded none: each file is an item) differs" in r.err


# -- 3. one reading of rows: only LF (or CRLF) ends a row, in every door -----------------------
def clean_has(repo: Path, files: dict[str, str | bytes | None]) -> None:
    """`files` on raw, then on clean through a plain git merge (no branchml involved)."""
    commit(repo, files, branch="raw")
    git("checkout", "-q", "clean", cwd=repo)
    git("merge", "-q", "--no-edit", "--no-verify", "raw", cwd=repo)


BARE_CR_CSV = b"id,x\n1,a\n2,b\r3,c\n4,d\n"  # the file: 4 ids, a row ends in a bare CR


def test_bare_cr_is_not_a_row_end_in_split(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    on_split(plain_project, {"data/a.csv": BARE_CR_CSV})
    before = snapshot(plain_project)
    r = bml("split", "--key", "id", cwd=plain_project)
    assert (r.code, r.err) == (2, (
        "branchml: error: data/a.csv: row 3 is not one CSV row (it holds a CR that ends no row "
        "(only LF or CRLF end a row)); fix it on its branch, then split again.\n"))
    assert snapshot(plain_project) == before


def test_bare_cr_is_not_a_row_end_in_pull(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    # a one-column file: a field count cannot see the CR; pull used to take "2\r3" as a row
    clean_has(plain_project, {"data/a.csv": "id\n1\n"})
    commit(plain_project, {"data/a.csv": b"id\n1\n2\r3\n4\n"}, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    before = snapshot(plain_project)
    r = bml("pull", "raw", "clean", cwd=plain_project)
    assert r.code == 2
    assert "data/a.csv: a new row of theirs is not valid CSV: '2\\r3'" in r.err
    assert snapshot(plain_project) == before


def test_bare_cr_row_is_dropped_by_validate_as_one_row(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(plain_project, {"data/a.csv": BARE_CR_CSV}, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    r = bml("pull", "raw", "clean", "--validate", "--json", cwd=plain_project)
    assert r.code == 0, r.err
    rows = json.loads(r.out)["validation"]["rows"]["data/a.csv"]
    assert [(x["row"], x["text"]) for x in rows] == [(3, "2,b\r3,c")]
    assert (plain_project / "data/a.csv").read_bytes() == b"id,x\n1,a\n4,d\n"


def test_assignment_with_a_bare_cr_is_refused_by_check_and_split(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    on_split(plain_project, {"data/a.txt": "a\n"})
    assert bml("split", cwd=plain_project).code == 0
    base = git("rev-parse", "split", cwd=plain_project)
    commit(plain_project, {"data/split/assignment.csv":
                           b"key,split\ndata/a.txt,train\rdata/b.txt,test\n"})
    r = bml("check", "--range", f"{base}..split", cwd=plain_project)
    assert r.code == 1 and "holds a CR that ends no row" in r.out + r.err
    on_split(plain_project, {"data/c.txt": "c\n"})
    r = bml("split", cwd=plain_project)
    assert r.code == 2 and "data/split/assignment.csv does not parse" in r.err


def test_cr_inside_a_row_counts_the_same_in_split_and_pull(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A CR inside quotes, JSON whitespace CR, CRLF rows and a last row without newline:
    split assigns exactly the rows pull appends."""
    csv_rows = b'id,note\r\n1,"a\rb"\r\n2,c\r\n'
    jsonl_rows = b'{"id": "3",\r "x": 1}\n{"id": "4"}\r\n{"id": "5"}'
    clean_has(plain_project, {"data/a.csv": b"id,note\r\n", "data/b.jsonl": b""})
    commit(plain_project, {"data/a.csv": csv_rows, "data/b.jsonl": jsonl_rows}, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    r = bml("pull", "raw", "clean", "--json", cwd=plain_project)
    assert r.code == 0, r.err
    assert json.loads(r.out)["appended"] == {"data/a.csv": 2, "data/b.jsonl": 3}
    on_split(plain_project, {"data/a.csv": csv_rows, "data/b.jsonl": jsonl_rows})
    r = bml("split", "--key", "id", "--json", cwd=plain_project)
    assert r.code == 0, r.err
    assert json.loads(r.out)["total"] == 5
    assert sorted(assigned(plain_project)) == ["1", "2", "3", "4", "5"]


def test_c_and_numpy_row_hashes_read_a_bare_cr_alike() -> None:
    from branchml.core import native, rowhash
    from branchml.core.rows import RowFormat, numbered_records

    raw = b"a\r\nb\rc\n\r\nd\r\r\n"
    rows = [r for _, r in numbered_records(raw, RowFormat.TEXT)]
    assert rows == [b"a", b"b\rc", b"", b"d\r"]
    assert native.available()
    assert list(native.hash_lines(raw)) == list(native.hash_rows(rows))
    assert rowhash.hash_lines(raw).tolist() == rowhash.hash_rows(rows).tolist()


# -- 2. split --key: rows without a key are never one item --------------------------------------
EMPTY_KEYS = {
    "data/a.csv": "id,x\n1,a\n,b\n  ,c\n2,d\n",          # rows 3 and 4: empty, whitespace
    "data/b.jsonl": '{"id": "3"}\n{"x": 1}\n{"id": null}\n{"id": ""}\n',  # rows 2-4
}


def test_split_refuses_rows_without_a_key(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    on_split(plain_project, EMPTY_KEYS)
    before = snapshot(plain_project)
    r = bml("split", "--key", "id", cwd=plain_project)
    assert (r.code, r.err) == (1, (
        "branchml: error: data/a.csv: 2 row(s) have no id value (rows 3, 4), 3 more in 1 "
        "other file(s); rows without a key are never grouped into one item: give them a key "
        "on their branch, or pass --skip-empty-keys to leave them unassigned.\n"))
    assert snapshot(plain_project) == before


def test_split_skip_empty_keys_assigns_nothing_for_them(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    on_split(plain_project, EMPTY_KEYS)
    r = bml("split", "--key", "id", "--skip-empty-keys", cwd=plain_project)
    assert r.code == 0, r.err
    assert r.out.splitlines()[1:] == [
        "Left unassigned: 2 row(s) of data/a.csv with no id value (rows 3, 4).",
        "Left unassigned: 3 row(s) of data/b.jsonl with no id value (rows 2, 3, 4).",
    ]
    assert sorted(assigned(plain_project)) == ["1", "2", "3"]  # no "" item, no "None" item
    r = bml("split", "--skip-empty-keys", "--json", cwd=plain_project)  # key reused
    out = json.loads(r.out)
    assert out["empty_keys"] == {"data/a.csv": 2, "data/b.jsonl": 3}
    assert out["empty_key_rows"]["data/b.jsonl"] == [2, 3, 4]
    # the legitimate twin: every row keyed, nothing to say
    on_split(plain_project, {"data/a.csv": "id,x\n1,a\n2,d\n5,e\n", "data/b.jsonl": None})
    r = bml("split", "--json", cwd=plain_project)
    assert r.code == 0, r.err
    assert json.loads(r.out)["empty_keys"] == {}


# -- 5. merge/pull summaries count every merged file, of every format ---------------------------
def sqlite_bytes(tmp: Path, rows: list[int]) -> bytes:
    import sqlite3

    path = tmp / f"db{len(list(tmp.glob('*.sqlite')))}.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    con.executemany("INSERT INTO t VALUES (?)", [(r,) for r in rows])
    con.commit()
    con.close()
    return path.read_bytes()


def parquet_bytes(rows: list[int]) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.table({"id": rows}), out)
    return out.getvalue()


def test_pull_summary_counts_every_format(plain_project: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    clean_has(plain_project, {
        "data/a.csv": "id\n1\n", "data/b.jsonl": '{"id": 1}\n', "data/c.json": "[1]\n",
        "data/d.sqlite": sqlite_bytes(tmp_path, [1]), "data/e.parquet": parquet_bytes([1]),
    })
    commit(plain_project, {
        "data/a.csv": "id\n1\n2\n", "data/b.jsonl": '{"id": 1}\n{"id": 2}\n',
        "data/c.json": "[1, 2, 3]\n", "data/d.sqlite": sqlite_bytes(tmp_path, [1, 2, 3, 4]),
        "data/e.parquet": parquet_bytes([1, 2]),
    }, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    r = bml("pull", "raw", "clean", cwd=plain_project)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("Pulled raw into clean (commit ")  # not "Pulleed"/"Mergeed"
    assert lines[1:] == [
        "  + data/a.csv: 1 row(s) appended (CSV)",
        "  + data/b.jsonl: 1 row(s) appended (JSON lines)",
        "  + data/c.json: 2 item(s) appended (JSON array)",
        "  + data/d.sqlite: 3 row(s) appended (SQLite)",
        "  + data/e.parquet: 1 row(s) appended (Parquet)",
        "Appended 1 row(s) to 1 CSV file(s), 2 item(s) to 1 JSON array file(s), 1 row(s) to 1 "
        "JSON lines file(s), 1 row(s) to 1 Parquet file(s), 3 row(s) to 1 SQLite file(s).",
        "Strategies: data=append",
    ]
    msg = git("log", "-1", "--format=%B", "clean", cwd=plain_project)
    assert "8 row(s) appended to 5 file(s) (1 row(s) to 1 CSV file(s), 2 item(s) to 1 JSON " \
           "array file(s)" in msg


def test_merge_says_merged(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    clean_has(plain_project, {"data/a.json": "[1]\n"})
    commit(plain_project, {"data/a.json": "[1, 2]\n"}, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    r = bml("merge", "raw", "--json", cwd=plain_project)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["appended"] == {"data/a.json": 1}
    assert out["appended_by_format"] == {"JSON array": {"files": 1, "rows": 1}}
    git("reset", "-q", "--hard", "HEAD^", cwd=plain_project)
    r = bml("merge", "raw", cwd=plain_project)
    assert r.out.startswith("Merged raw into clean (commit ")


# -- 4. the validation report: every dropped row, per row in every row format, bounded ---------
SCHEMA = ("validate:\n"
          "  - glob: \"data/**\"\n"
          "    schema: {type: object, required: [id], properties: {id: {type: integer}}}\n")


def with_schema(repo: Path) -> None:
    cfg = (repo / "branchml.yaml").read_text().replace("validate: []\n", "")
    commit(repo, {"branchml.yaml": cfg + SCHEMA}, branch="main")


def committed_report(repo: Path) -> dict:  # type: ignore[type-arg]
    raw = git("rev-parse", "raw", cwd=repo)
    return json.loads(git("show", f"clean:data/_validation/pull-{raw[:10]}.json", cwd=repo))


def test_validate_drops_bad_rows_one_by_one_and_names_them(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    with_schema(plain_project)
    commit(plain_project, {
        "data/a.jsonl": '{"id": 1}\n{"id": \n{"id": "x"}\n{"id": 4}\n',  # rows 2, 3 bad
        "data/b.csv": "id,v\n1,a\n2,b,extra\nx,c\n5,d\n",               # rows 3, 4 bad
        "data/c.json": "[1, 2",                                         # a whole array
        "data/d.jsonl": '{"id": "y"}\n',                                # every row bad
    }, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    r = bml("pull", "raw", "clean", "--validate", "--json", cwd=plain_project)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    report = committed_report(plain_project)
    assert out["validation"] == report
    assert sorted(out["added"]) == ["data/a.jsonl", "data/b.csv"]
    assert report["dropped"] == {"data/a.jsonl": "2 row(s) dropped",
                                 "data/b.csv": "2 row(s) dropped",
                                 "data/c.json": "not valid JSON",
                                 "data/d.jsonl": "every row was dropped (1)"}
    assert report["rows"]["data/a.jsonl"] == [
        {"row": 2, "reason": "not valid JSON", "text": '{"id": '},
        {"row": 3, "reason": "fails the schema: 'x' is not of type 'integer'",
         "text": '{"id": "x"}'}]
    assert [(x["row"], x["reason"]) for x in report["rows"]["data/b.csv"]] == [
        (3, "3 fields, the header has 2"),
        (4, "fails the schema: 'x' is not of type 'integer'")]
    assert report["rows_dropped"] == {"data/a.jsonl": 2, "data/b.csv": 2, "data/d.jsonl": 1}
    assert report["rows_not_listed"] == 0
    assert (plain_project / "data/a.jsonl").read_text() == '{"id": 1}\n{"id": 4}\n'
    assert (plain_project / "data/b.csv").read_text() == "id,v\n1,a\n5,d\n"


def test_rows_dropped_from_a_later_append_are_printed(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    with_schema(plain_project)
    commit(plain_project, {"data/a.jsonl": '{"id": 1}\n', "data/b.csv": "id\n1\n"},
           branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    assert bml("pull", "raw", "clean", "--validate", cwd=plain_project).code == 0
    commit(plain_project, {"data/a.jsonl": '{"id": 1}\n{"id": 2}\nnot json\n{"id": 3}\n',
                           "data/b.csv": "id\n1\nx\n2\n"}, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    r = bml("pull", "raw", "clean", "--validate", cwd=plain_project)
    assert r.code == 0, r.err
    raw = git("rev-parse", "raw", cwd=plain_project)
    lines = r.out.splitlines()
    assert lines[3:9] == [
        "  - data/a.jsonl: 1 new row(s) dropped",
        "      new row 2: not valid JSON: 'not json'",
        "  - data/b.csv: 1 new row(s) dropped",
        "      new row 1: fails the schema: 'x' is not of type 'integer': 'x'",
        f"Validation report: data/_validation/pull-{raw[:10]}.json (2 row(s) dropped).",
        "Appended 1 row(s) to 1 CSV file(s), 2 row(s) to 1 JSON lines file(s).",
    ]
    report = committed_report(plain_project)
    assert report["rows"] == {
        "data/a.jsonl": [{"new_row": 2, "reason": "not valid JSON", "text": "not json"}],
        "data/b.csv": [{"new_row": 1, "reason": "fails the schema: 'x' is not of type "
                                                "'integer'", "text": "x"}]}
    assert (plain_project / "data/a.jsonl").read_text() == '{"id": 1}\n{"id": 2}\n{"id": 3}\n'
    assert (plain_project / "data/b.csv").read_text() == "id\n1\n2\n"


def test_validation_report_is_bounded(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    from branchml.core.validrows import MAX_LISTED

    bad = MAX_LISTED + 234
    commit(plain_project, {"data/a.jsonl": '{"id": 1}\n' + "nope\n" * bad}, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    r = bml("pull", "raw", "clean", "--validate", cwd=plain_project)
    assert r.code == 0, r.err
    report = committed_report(plain_project)
    assert len(report["rows"]["data/a.jsonl"]) == MAX_LISTED
    assert report["rows_dropped"] == {"data/a.jsonl": bad}
    assert report["rows_not_listed"] == 234
    assert "      ... 234 more row(s) dropped, counted but not listed" in r.out.splitlines()


def test_validate_refuses_an_appended_file_whose_header_is_not_utf8(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    with_schema(plain_project)
    clean_has(plain_project, {"data/h.csv": b"id,n\xff\n1,a\n"})
    commit(plain_project, {"data/h.csv": b"id,n\xff\n1,a\n2,b\n"}, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    before = snapshot(plain_project)
    r = bml("pull", "raw", "clean", "--validate", cwd=plain_project)
    assert (r.code, r.err) == (2, "branchml: error: data/h.csv: the header is not one CSV row "
                                  "(it is not valid UTF-8 text); fix it on its branch, then "
                                  "pull again.\n")
    assert snapshot(plain_project) == before


@pytest.mark.slow
def test_server_refuses_an_assignment_with_a_bare_cr(project: Path, installed_server: Path,
                                                     bml) -> None:  # type: ignore[no-untyped-def]
    """A pusher's assignment.csv whose rows a CSV reader splits at a bare CR (two rows) while
    the checker read one: now unreadable in every door, so the server refuses it."""
    on_split(project, {"data/a.txt": "a\n", "data/b.txt": "b\n"})
    assert bml("split", cwd=project).code == 0
    assert git_proc("push", "origin", "split", cwd=project).returncode == 0
    before = server_refs(installed_server)
    text = (project / "data/split/assignment.csv").read_bytes()
    lines = text.split(b"\n")
    evil = b"\n".join(lines[:2]) + b"\r" + b"\n".join(lines[2:])
    commit(project, {"data/split/assignment.csv": evil}, branch="split")
    git("lfs", "push", "origin", "split", cwd=project)  # the object is there: only the rows
    p = git_proc("push", "--no-verify", "origin", "split", cwd=project)
    assert p.returncode != 0 and server_refs(installed_server) == before
    assert "data/split/assignment.csv does not parse" in p.stderr
    assert "holds a CR that ends no row" in p.stderr and "Traceback" not in p.stderr
    # the legitimate twin: the same file with the row ended by LF, plus a new item
    good = text + b"data/c.txt,train\n"
    git("reset", "-q", "--hard", "HEAD^", cwd=project)
    commit(project, {"data/split/assignment.csv": good, "data/c.txt": "c\n"}, branch="split")
    p = git_proc("push", "origin", "split", cwd=project)
    assert p.returncode == 0, p.stderr


def server_refs(bare: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


@pytest.mark.parametrize(("batch", "raw", "ok"), [
    ([b"1,a", b"2,b"], b"1,a\r\n2,b\r\n", True),        # CRLF terminators: not bare
    ([b"1,a", b'2,"b\rc"'], None, True),                  # a CR inside quotes is data
    ([b"1,a\r", b"2,b"], b"1,a\r\r\n2,b\r\n", False),    # CR CR LF: one CR is bare
    ([b"1,a\r", b"2,b"], None, False),
    ([b"1,a\rb", b"2,b"], None, False),                  # the field count looks right
])
def test_pull_row_check_sees_every_bare_cr(batch: list[bytes], raw: bytes | None,
                                          ok: bool) -> None:
    from branchml.core import rowcheck
    from branchml.core.rows import RowFormat
    from branchml.errors import UsageError

    if ok:
        assert rowcheck.valid(RowFormat.CSV, batch, b"id,x", "a.csv", raw) == batch
    else:
        with pytest.raises(UsageError, match="is not valid CSV"):
            rowcheck.valid(RowFormat.CSV, batch, b"id,x", "a.csv", raw)
