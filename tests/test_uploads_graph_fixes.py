"""Issue 21 fix round (fu): an upload ending inside an open quoted CSV field, rows a merge
commit adds itself, and `-o`/`--report` writers that would rename over a device link or a
named pipe. Real git, real git-lfs, real bare servers; attacks made by hand."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from branchml.errors import UsageError
from branchml.ops import driftreport, outfile, uploadrows
from branchml.ops.trusted import load_trusted, trusted_config, trusted_ref
from branchml.repo.reader import Git
from tests.conftest import commit, copied_fixtures, git, git_proc

project, installed_server = copied_fixtures(server=True)


V1 = b'x,y\n0,0\n1,"a\n'  # ends inside an open quoted field (its last byte a LF)
V2 = V1 + b'b"\n5,6\n'  # closes it and adds a row


def _upload_rows(repo: Path) -> dict[tuple[str, str], int]:
    g = Git(repo)
    policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
    found = uploadrows.read_raw(g, policy, trusted_config(g), "raw")
    return {(u.commit, u.file): u.rows for u in found.uploads}


def _blob(repo: Path, data: bytes) -> str:
    done = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data,
                          capture_output=True, check=True)
    return done.stdout.decode().strip()


def _plain_commit(repo: Path, path: str, data: bytes, msg: str) -> str:
    """A commit on raw holding `data` at `path` as a plain git blob (no LFS pointer)."""
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "plain-index")}
    tip = git("rev-parse", "raw", cwd=repo)

    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True,
                              text=True, check=True).stdout.strip()

    run("read-tree", tip)
    run("update-index", "--add", "--cacheinfo", f"100644,{_blob(repo, data)},{path}")
    sha = run("commit-tree", run("write-tree"), "-p", tip, "-m", msg)
    run("update-ref", "refs/heads/raw", sha)
    return sha


def _release(repo: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(repo, {"src/t.py": "print(1)\n"}, "code", branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=repo).code == 0
    assert bml("pull", "raw", "stable/model", cwd=repo).code == 0
    commit(repo, {"models/model.bin": "m1"}, "model", branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=repo).code == 0


# -- 1. an upload ending inside an open quoted field --------------------------------------------
def test_an_open_quote_across_lfs_uploads_counts_as_its_plain_twin(project: Path) -> None:
    lfs1 = commit(project, {"data/g.csv": V1}, "upload 1", branch="raw")
    lfs2 = commit(project, {"data/g.csv": V2}, "upload 2")
    assert git("lfs", "ls-files", cwd=project).count("data/g.csv") == 1
    plain1 = _plain_commit(project, "data/h.csv", V1, "plain upload 1")
    plain2 = _plain_commit(project, "data/h.csv", V2, "plain upload 2")
    got = _upload_rows(project)
    # the record `1,"a<LF>b"` is a new row of upload 2 (it completed it); `1,"a` was a row
    # of upload 1's version, the one a release made from that version would hold
    assert [got[(lfs1, "data/g.csv")], got[(lfs2, "data/g.csv")]] == [2, 2]
    assert [got[(plain1, "data/h.csv")], got[(plain2, "data/h.csv")]] == [2, 2]


@pytest.mark.slow
def test_an_upload_closing_an_open_quote_is_found_by_impact(
        project: Path, installed_server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    u1 = commit(project, {"data/d.csv": V1}, "upload 1", branch="raw", verify=True)
    u2 = commit(project, {"data/d.csv": V2}, "upload 2", verify=True)
    pushed = git_proc("push", "origin", "raw", cwd=project)
    assert pushed.returncode == 0, pushed.stderr  # an ordinary upload: the server takes it
    _release(project, bml)
    r = bml("lineage", "models/model.bin", "--rev", "acme-v1", "--rows", "--json",
            cwd=project)
    rows = json.loads(r.out)["rows"]
    assert (rows["total"], rows["matched"], rows["unmatched"]) == (3, 3, 0)
    assert {u["commit"]: u["rows"] for u in rows["uploads"]} == {u1: 1, u2: 2}
    r = bml("impact", "--from", u2, cwd=project)
    assert r.code == 1 and "acme-v1" in r.out, r.out + r.err


def test_a_quoted_newline_inside_one_upload_keeps_the_one_pass(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def per_version(*args: object) -> None:
        raise AssertionError("a prefix chain was read version by version")

    monkeypatch.setattr(uploadrows, "event_rows", per_version)
    a = commit(project, {"data/g.csv": b'x,y\n1,"a\nb"\n'}, "upload 1", branch="raw")
    b = commit(project, {"data/g.csv": b'x,y\n1,"a\nb"\n2,"c\nd"\n3,3\n'}, "upload 2")
    got = _upload_rows(project)
    assert (got[(a, "data/g.csv")], got[(b, "data/g.csv")]) == (1, 2)


# -- 2. rows a merge commit adds itself -----------------------------------------------------------
def _merge_side(repo: Path, extra: bytes | None) -> tuple[str, str, str]:
    """raw: upload 1; side (from it) appends 3,4; raw appends 5,6; then side merged into raw
    by a real `git merge` (the append driver), `extra` appended in the merge's own tree."""
    a = commit(repo, {"data/d.csv": b"x,y\n1,2\n"}, "upload 1", branch="raw")
    git("checkout", "-q", "-b", "side", cwd=repo)
    side = commit(repo, {"data/d.csv": b"x,y\n1,2\n3,4\n"}, "side: 3,4")
    commit(repo, {"data/d.csv": b"x,y\n1,2\n5,6\n"}, "raw: 5,6", branch="raw")
    git("merge", "-q", "--no-ff", "--no-commit", "side", cwd=repo)
    assert (repo / "data/d.csv").read_bytes() == b"x,y\n1,2\n5,6\n3,4\n"
    if extra is not None:  # an evil merge: rows in neither parent
        with (repo / "data/d.csv").open("ab") as f:
            f.write(extra)
        git("add", "data/d.csv", cwd=repo)
    git("commit", "-q", "--no-verify", "-m", "merge side", cwd=repo)
    git("branch", "-q", "-D", "side", cwd=repo)
    return a, side, git("rev-parse", "HEAD", cwd=repo)


@pytest.mark.slow
def test_rows_a_merge_adds_itself_are_its_upload(
        project: Path, installed_server: Path, bml) -> None:  # type: ignore[no-untyped-def]
    a, side, merge = _merge_side(project, b"7,8\n")
    pushed = git_proc("push", "origin", "raw", cwd=project)
    assert pushed.returncode == 0, pushed.stderr  # the server takes such a merge
    _release(project, bml)
    rows = json.loads(bml("lineage", "models/model.bin", "--rev", "acme-v1", "--rows",
                          "--json", cwd=project).out)["rows"]
    assert (rows["total"], rows["matched"], rows["unmatched"]) == (4, 4, 0)
    got = {u["commit"]: u["rows"] for u in rows["uploads"]}
    assert got[merge] == 1 and got[a] == 1 and got[side] == 1
    r = bml("impact", "--from", merge, cwd=project)
    assert r.code == 1 and "acme-v1" in r.out, r.out + r.err
    merged = [u for u in _uploads(project) if u.commit == merge]
    assert merged[0].to_dict()["merge"] is True and merged[0].rows == 1


def test_a_merge_that_only_joins_its_parents_adds_nothing_and_reads_nothing_more(
        project: Path, bml, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    merge = _merge_side(project, None)[2]

    def read_whole(*args: object) -> None:
        raise AssertionError("a version was read whole")

    monkeypatch.setattr(uploadrows, "event_rows", read_whole)
    monkeypatch.setattr(uploadrows.rowsource, "all_hashes", read_whole)
    got = _upload_rows(project)
    assert got.get((merge, "data/d.csv"), 0) == 0
    assert sum(got.values()) == 3  # 1,2 / 3,4 / 5,6: each its upload's
    monkeypatch.undo()  # impact reads the merge's versions: one upload, read whole
    r = bml("impact", "--from", merge, cwd=project)
    assert r.code == 2 and "adds no rows" in r.err


@pytest.mark.parametrize("swapped", [False, True])
def test_a_forged_merge_with_rows_of_its_own_is_their_upload(project: Path,
                                                            swapped: bool) -> None:
    """A merge made by hand (`git commit-tree`), parents in either order, whose file holds
    both sides' rows and one of its own."""
    a = commit(project, {"data/d.csv": b"x,y\n1,2\n"}, "upload 1", branch="raw")
    side = commit(project, {"data/d.csv": b"x,y\n1,2\n3,4\n"}, "side")
    git("update-ref", "refs/heads/raw", a, cwd=project)
    git("checkout", "-q", "-f", "raw", cwd=project)
    mine = commit(project, {"data/d.csv": b"x,y\n1,2\n5,6\n"}, "raw: 5,6")
    git("rm", "-q", "--cached", "data/d.csv", cwd=project)
    data = b"x,y\n1,2\n5,6\n3,4\n9,9\n"  # both sides' rows, then one of its own
    oid = hashlib.sha256(data).hexdigest()
    obj = project / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(data)
    blob = _blob(project, f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\n"
                          f"size {len(data)}\n".encode())
    env = {**os.environ, "GIT_INDEX_FILE": str(project / ".git" / "forge-index")}

    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=project, env=env, capture_output=True,
                              text=True, check=True).stdout.strip()

    run("read-tree", mine)
    run("update-index", "--add", "--cacheinfo", f"100644,{blob},data/d.csv")
    parents = [side, mine] if swapped else [mine, side]
    merge = run("commit-tree", run("write-tree"), *[x for p in parents for x in ("-p", p)],
                "-m", "forged merge")
    git("update-ref", "refs/heads/raw", merge, cwd=project)
    got = _upload_rows(project)
    assert got[(merge, "data/d.csv")] == 1  # 9,9: in neither parent
    assert (got[(a, "data/d.csv")], got[(side, "data/d.csv")], got[(mine, "data/d.csv")]) \
        == (1, 1, 1)


def test_the_log_reader_takes_a_merge_against_its_first_parent() -> None:
    from branchml.core.rowindex import parse_log

    o = ["1" * 40, "2" * 40, "3" * 40]
    raw = (b"\x01" + b"c" * 40 + b"\0Ana\0a@b\0" + b"2026-01-01\0\0"
           + f"::100644 100755 100644 {o[0]} {o[1]} {o[2]} MM".encode() + b"\0data/d.csv\0")
    (c,) = parse_log(raw)
    (ch,) = c.changes
    assert (ch.status, ch.path, ch.old_oid, ch.new_oid) == ("M", "data/d.csv", o[0], o[2])
    assert c.others == {"data/d.csv": [("100755", o[1])]}


def _uploads(repo: Path) -> list[uploadrows.Upload]:
    g = Git(repo)
    policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
    return uploadrows.read_raw(g, policy, trusted_config(g), "raw").uploads


# -- 3. -o / --report never renamed over a device link, a pipe or a socket ----------------------
@pytest.mark.parametrize("kind", ["fifo", "link-to-fifo", "link-outside"])
def test_graph_o_refuses_what_a_rename_would_replace(
        project: Path, tmp_path: Path, bml, kind: str) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "pipe.mmd"
    os.mkfifo(fifo)
    outside = tmp_path / "outside.mmd"
    outside.write_text("keep\n")
    target = {"fifo": fifo, "link-to-fifo": tmp_path / "link.mmd",
              "link-outside": project / "out.mmd"}[kind]
    if kind != "fifo":
        target.symlink_to(fifo if kind == "link-to-fifo" else outside)
    r = bml("graph", "-o", str(target), cwd=project)
    assert r.code == 2, r.out + r.err
    assert "not a regular file" in r.err and len(r.err.strip().splitlines()) == 1
    assert fifo.is_fifo() and outside.read_text() == "keep\n"
    assert kind == "fifo" or target.is_symlink()


def test_graph_o_still_writes_new_regular_and_linked_inside_files(
        project: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    new = tmp_path / "new.mmd"
    assert bml("graph", "-o", str(new), cwd=project).code == 0 and new.is_file()
    assert bml("graph", "-o", str(new), cwd=project).code == 0  # over a regular file
    inside = project / "graph.mmd"
    inside.write_text("old\n")
    link = project / "link.mmd"
    link.symlink_to(inside)
    assert bml("graph", "-o", str(link), cwd=project).code == 0


def test_system_folders_are_refused_outright(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="/dev, /proc or /sys"):
        outfile.check_replaceable(Path("/sys/branchml-no-such-file"), "x", tmp_path)


def test_drift_report_refuses_a_fifo_and_a_link_to_one(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fifo = tmp_path / "r.md"
    os.mkfifo(fifo)
    link = tmp_path / "l.md"
    link.symlink_to(fifo)
    for path in (fifo, link):
        with pytest.raises(UsageError, match="not a regular file"):
            driftreport.check_path(path)
    regular = tmp_path / "ok.md"
    regular.write_text("old")
    driftreport.check_path(regular)  # its twin: a regular file is replaced whole
    driftreport.check_path(tmp_path / "new.md")
